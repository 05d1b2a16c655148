// Writes INI/desktop-entry style files from typed objects (SDDM config, .desktop files).
export type IniSections = Record<string, Record<string, string | number | boolean>>;

export function toIni(sections: IniSections): string {
  return Object.entries(sections)
    .map(([name, keys]) => {
      const body = Object.entries(keys).map(([k, v]) => `${k}=${String(v)}`);
      return [`[${name}]`, ...body].join("\n");
    })
    .join("\n\n")
    .concat("\n");
}
