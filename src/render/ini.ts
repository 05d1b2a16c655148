// Writes INI/desktop-entry style files from typed objects (SDDM config, systemd units, .desktop
// files). Every value goes through the escaper of the file's dialect.
import { iniValue } from "./escape/ini.js";

export type IniSections = Record<string, Record<string, string | number | boolean>>;

export function toIni(sections: IniSections, quote: (value: string) => string = iniValue): string {
  return Object.entries(sections)
    .map(([name, keys]) => {
      const body = Object.entries(keys).map(([k, v]) => `${k}=${quote(String(v))}`);
      return [`[${name}]`, ...body].join("\n");
    })
    .join("\n\n")
    .concat("\n");
}
