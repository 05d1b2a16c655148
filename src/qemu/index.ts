// QEMU boot-test harness: argv builder, QMP client, serial watcher, OCR, and bootIso.
export * from "./boot.js";
export * from "./calamares-log.js";
export * from "./disk.js";
export * from "./guest.js";
export * from "./install.js";
export * from "./keys.js";
export * from "./machine.js";
export * from "./ocr.js";
export * from "./ovmf-vars.js";
export * from "./png.js";
export * from "./qmp.js";
export * from "./screen.js";
export * from "./serial.js";
