// Minimal QMP client over a unix socket: greeting + qmp_capabilities handshake, commands matched
// to replies by id, asynchronous events ignored (or handed to onEvent).
import { connect, type Socket } from "node:net";
import { AtomisoError } from "../errors.js";

export interface QmpConnectOptions {
  /** Keep retrying (QEMU creates the socket shortly after it starts) for this long. Default 30 s. */
  timeoutMs?: number;
  /** Give up early, e.g. when QEMU has exited. */
  signal?: AbortSignal;
  onEvent?: (event: QmpEvent) => void;
}

export interface QmpEvent {
  event: string;
  data?: unknown;
  timestamp?: { seconds: number; microseconds: number };
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

type QmpMessage =
  | { QMP: unknown }
  | { return: unknown; id?: unknown }
  | { error: { class: string; desc: string }; id?: unknown }
  | QmpEvent;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function closedError(socketPath: string, why: string): AtomisoError {
  return new AtomisoError(
    "boot-failed",
    `the QMP connection to QEMU (${socketPath}) ${why}`,
    "QEMU has probably exited; see qemu.log in the run directory",
  );
}

export class QmpClient {
  readonly socketPath: string;
  private readonly socket: Socket;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private buffer = "";
  private closed = false;
  private greeting: ((msg: QmpMessage) => void) | undefined;
  onEvent: ((event: QmpEvent) => void) | undefined;

  private constructor(socketPath: string, socket: Socket) {
    this.socketPath = socketPath;
    this.socket = socket;
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => this.onData(chunk));
    socket.on("close", () => this.onClose());
    socket.on("error", () => {
      // 'close' follows and rejects whatever is pending
    });
  }

  /** Connects (retrying until the socket exists) and completes the capabilities handshake. */
  static async connect(socketPath: string, options: QmpConnectOptions = {}): Promise<QmpClient> {
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    let lastError = "";
    for (;;) {
      if (options.signal?.aborted) {
        throw closedError(socketPath, `could not be opened: ${String(options.signal.reason)}`);
      }
      try {
        const socket = await openSocket(socketPath);
        const client = new QmpClient(socketPath, socket);
        client.onEvent = options.onEvent;
        await client.handshake(Math.max(1000, deadline - Date.now()));
        return client;
      } catch (err) {
        if (err instanceof AtomisoError) throw err;
        lastError = (err as Error).message;
      }
      if (Date.now() >= deadline) {
        throw new AtomisoError(
          "boot-failed",
          `could not connect to QEMU's QMP socket ${socketPath} (${lastError})`,
          "QEMU did not start properly; see qemu.log in the run directory",
        );
      }
      await sleep(100);
    }
  }

  private handshake(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.greeting = undefined;
        this.close();
        reject(closedError(this.socketPath, `sent no greeting within ${timeoutMs} ms`));
      }, timeoutMs);
      this.greeting = (msg) => {
        clearTimeout(timer);
        this.greeting = undefined;
        if (!("QMP" in msg)) {
          this.close();
          reject(closedError(this.socketPath, "did not start with a QMP greeting"));
          return;
        }
        this.execute("qmp_capabilities").then(() => resolve(), reject);
      };
    });
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl = this.buffer.indexOf("\n");
    while (nl >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      nl = this.buffer.indexOf("\n");
      if (!line) continue;
      let msg: QmpMessage;
      try {
        msg = JSON.parse(line) as QmpMessage;
      } catch {
        continue; // not JSON: ignore rather than wedge the connection
      }
      this.dispatch(msg);
    }
  }

  private dispatch(msg: QmpMessage): void {
    if (this.greeting) {
      this.greeting(msg);
      return;
    }
    if ("event" in msg) {
      this.onEvent?.(msg);
      return;
    }
    if (!("return" in msg) && !("error" in msg)) return;
    const id = typeof msg.id === "number" ? msg.id : undefined;
    if (id === undefined) return;
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    if (pending.timer) clearTimeout(pending.timer);
    if ("error" in msg) {
      pending.reject(
        new AtomisoError(
          "command-failed",
          `QMP command "${pending.command}" failed: ${msg.error.class}: ${msg.error.desc}`,
          "check the command's arguments against the QEMU version in use (qemu-system-x86_64 --version)",
        ),
      );
    } else {
      pending.resolve(msg.return);
    }
  }

  private onClose(): void {
    this.closed = true;
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      if (pending.timer) clearTimeout(pending.timer);
      pending.reject(closedError(this.socketPath, `closed while "${pending.command}" was running`));
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Runs a QMP command and resolves with its "return" value. */
  execute<T = unknown>(
    command: string,
    args?: Record<string, unknown>,
    options: { timeoutMs?: number } = {},
  ): Promise<T> {
    if (this.closed) return Promise.reject(closedError(this.socketPath, "is closed"));
    const id = this.nextId++;
    const timeoutMs = options.timeoutMs ?? 60_000;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new AtomisoError(
            "boot-failed",
            `QMP command "${command}" got no reply within ${timeoutMs} ms`,
            "QEMU may be hung; see qemu.log in the run directory",
          ),
        );
      }, timeoutMs);
      this.pending.set(id, {
        command,
        resolve: resolve as (value: unknown) => void,
        reject,
        timer,
      });
      const msg =
        args === undefined ? { execute: command, id } : { execute: command, arguments: args, id };
      this.socket.write(`${JSON.stringify(msg)}\n`);
    });
  }

  /** Saves the current screen as a PNG (QEMU >= 7.1); the path is as QEMU sees it. */
  async screendump(pngPath: string): Promise<void> {
    await this.execute("screendump", { filename: pngPath, format: "png" });
  }

  /**
   * Presses the given keys together (a chord) and releases them, e.g. ["ret"] or
   * ["ctrl", "alt", "delete"]. Keys are QEMU qcodes: "a".."z", "0".."9", "ret", "tab", "esc",
   * "spc", "up", "down", "left", "right", "shift", "ctrl", "alt", "meta_l", "f1".. etc.
   */
  async sendKey(keys: readonly string[], holdTimeMs = 100): Promise<void> {
    if (keys.length === 0) return;
    await this.execute("send-key", {
      keys: keys.map((k) => ({ type: "qcode", data: k })),
      "hold-time": holdTimeMs,
    });
  }

  /** Asks QEMU to exit; resolves once it has acknowledged or the connection has closed. */
  async quit(timeoutMs = 5000): Promise<void> {
    if (this.closed) return;
    try {
      await this.execute("quit", undefined, { timeoutMs });
    } catch {
      // QEMU may close the socket before replying; that is the outcome we wanted anyway.
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

function openSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const onError = (err: Error) => {
      socket.destroy();
      reject(err);
    };
    socket.once("error", onError);
    socket.once("connect", () => {
      socket.off("error", onError);
      resolve(socket);
    });
  });
}
