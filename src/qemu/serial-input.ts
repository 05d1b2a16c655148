// Typing on a guest's serial console: QEMU serves the serial port on a unix socket (its output
// is still logged to the serial log file), and this writes to it, e.g. to log in on a getty.
import { createConnection, type Socket } from "node:net";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class SerialInput {
  private constructor(private readonly socket: Socket) {}

  /** Connects to QEMU's serial socket (QEMU must already be listening: wait=off). */
  static async connect(path: string, timeoutMs = 30_000): Promise<SerialInput> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const socket = await new Promise<Socket>((resolve, reject) => {
          const s = createConnection(path, () => resolve(s));
          s.once("error", reject);
        });
        // Output is read from the log file; drain the socket so QEMU never blocks on it.
        socket.on("data", () => {});
        socket.on("error", () => {});
        return new SerialInput(socket);
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(200);
      }
    }
  }

  /** Types `text` a few characters at a time: a getty at 115200 baud reads them all. */
  async type(text: string): Promise<void> {
    for (let i = 0; i < text.length; i += 16) {
      await new Promise<void>((resolve, reject) =>
        this.socket.write(text.slice(i, i + 16), (err) => (err ? reject(err) : resolve())),
      );
      await sleep(20);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
