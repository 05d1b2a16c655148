// Generates schema/atomiso.schema.json and docs/config.md from the zod schema, so the types,
// defaults, JSON Schema and reference can never disagree. `atomiso gen-docs` writes them; a
// unit test fails when the committed copies drift.
import { z } from "zod";
import { configSchema } from "./schema.js";

type JsonSchema = {
  type?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  pattern?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  minimum?: number;
  maximum?: number;
};

export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  return {
    ...schema,
    $id: "https://atomiso.dev/schema/atomiso.schema.json",
    title: "atomiso.toml",
  };
}

function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => `\`${JSON.stringify(v)}\``).join(" \\| ");
  if (s.type === "array")
    return `array of ${s.items ? (s.items.type === "object" ? "tables" : typeOf(s.items)) : "values"}`;
  if (s.type === "integer" && (s.minimum !== undefined || s.maximum !== undefined))
    return `integer ${s.minimum ?? ""}–${s.maximum ?? ""}`;
  return s.type ?? "any";
}

function defaultOf(s: JsonSchema, required: boolean): string {
  if (
    s.default !== undefined &&
    !(typeof s.default === "object" && s.default !== null && !Array.isArray(s.default))
  ) {
    return `\`${JSON.stringify(s.default)}\``;
  }
  return required ? "**required**" : "—";
}

function section(title: string, s: JsonSchema, out: string[]): void {
  const rows: string[] = [];
  const nested: [string, JsonSchema][] = [];
  for (const [key, prop] of Object.entries(s.properties ?? {})) {
    const required = s.required?.includes(key) ?? false;
    if (prop.type === "object" && prop.properties) {
      nested.push([`${title}.${key}`, prop]);
      continue;
    }
    if (prop.type === "array" && prop.items?.type === "object")
      nested.push([`[${title}.${key}]`, prop.items]);
    const pattern = prop.pattern ? ` Pattern: \`${prop.pattern}\`.` : "";
    rows.push(
      `| \`${key}\` | ${typeOf(prop)} | ${defaultOf(prop, required)} | ${(prop.description ?? "").replaceAll("|", "\\|")}${pattern} |`,
    );
  }
  out.push(
    `## \`[${title.replace(/^\[|\]$/g, "")}]\`${title.startsWith("[") ? " (array of tables)" : ""}`,
    "",
  );
  if (s.description) out.push(s.description, "");
  if (rows.length)
    out.push("| key | type | default | description |", "| --- | --- | --- | --- |", ...rows, "");
  for (const [t, p] of nested) section(t, p, out);
}

export function configMarkdown(): string {
  const schema = z.toJSONSchema(configSchema, {
    io: "input",
    unrepresentable: "any",
  }) as JsonSchema;
  const out = [
    "# atomiso.toml reference",
    "",
    "<!-- Generated from src/config/schema.ts by `npm run gen`; do not edit. -->",
    "",
    "Relative paths are resolved against the folder that holds atomiso.toml. Unknown keys are errors.",
    "`atomiso validate` checks a file and prints every problem at once. The JSON Schema is",
    "[schema/atomiso.schema.json](../schema/atomiso.schema.json) (editors can use it with Taplo / Even Better TOML).",
    "",
  ];
  for (const [key, prop] of Object.entries(schema.properties ?? {})) section(key, prop, out);
  return `${out.join("\n").trimEnd()}\n`;
}
