import { type Command, Option } from "commander";
import { wasInterrupted, withInterruptHandling } from "../../build/interrupt.js";
import {
  devRegistry,
  registryStatus,
  serveRegistry,
  startRegistry,
  stopRegistry,
} from "../../registry/dev-registry.js";
import { cacheDirFor, type GlobalOptions } from "../options.js";

function portOption(): Option {
  return new Option("--port <n>", "TCP port on 127.0.0.1").default(5000).argParser((v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`--port ${v}: not a port`);
    return n;
  });
}

export function registerRegistry(program: Command, globals: () => GlobalOptions): void {
  const registry = program
    .command("registry")
    .description(
      "a local development registry on 127.0.0.1 (Debian's docker-registry, storage in the cache dir)",
    );
  registry
    .command("start")
    .description("start it in the background (it runs until `atomiso registry stop`)")
    .addOption(portOption())
    .option(
      "--foreground",
      "serve in the foreground until stopped (Ctrl-C, SIGTERM), e.g. as its own container",
    )
    .action(async (opts: { port: number; foreground?: boolean }) => {
      const r = devRegistry(cacheDirFor(globals()), opts.port);
      if (opts.foreground) {
        console.log(`registry serving on ${r.addr} (storage ${r.dir}/storage) until stopped`);
        try {
          await withInterruptHandling(() => serveRegistry(r, (line) => console.log(line)));
        } catch (err) {
          if (!wasInterrupted()) throw err;
        }
        console.log("registry stopped");
        return;
      }
      const outcome = await startRegistry(r);
      const text = {
        started: `registry started on ${r.addr} (storage ${r.dir}/storage, log ${r.logFile})`,
        "already-running": `registry already running on ${r.addr}`,
        "other-registry": `a registry not started by atomiso already answers on ${r.addr}; using it`,
      }[outcome];
      console.log(text);
    });
  registry
    .command("stop")
    .description("stop the registry `atomiso registry start` started (its storage stays)")
    .addOption(portOption())
    .action(async (opts: { port: number }) => {
      const r = devRegistry(cacheDirFor(globals()), opts.port);
      console.log(
        (await stopRegistry(r)) ? `registry on ${r.addr} stopped` : "registry was not running",
      );
    });
  registry
    .command("status")
    .description("say whether the registry runs and answers")
    .addOption(portOption())
    .action(async (opts: { port: number }) => {
      const r = devRegistry(cacheDirFor(globals()), opts.port);
      const s = await registryStatus(r);
      if (s.running)
        console.log(
          `running (pid ${s.pid}) on ${r.addr}${s.answers ? "" : ", not answering yet"}; storage ${r.dir}/storage`,
        );
      else if (s.answers)
        console.log(`not started by atomiso, but a registry answers on ${r.addr}`);
      else console.log(`not running (start it with: atomiso registry start)`);
    });
}
