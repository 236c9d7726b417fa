// A Python SDK user for the browser specs: e2e/sdk_peer.py in a child process (the repository's .venv
// Python), talking to this run's server, driven by one JSON line a request over its stdin and stdout.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "../..");

interface Ops {
  signup: { req: { username: string; password: string }; res: { user: number } };
  open_direct: { req: { user: string }; res: { room: number } };
  create_group: { req: { name: string; members: string[] }; res: { room: number } };
  /** Remove member `user` (a username) from `room`, as its owner. */
  remove: { req: { room: number; user: string }; res: Record<string, never> };
  send: { req: { room: number; body: string }; res: { seq: number } };
  /** Resolves once a message of `room` decrypted to `body` on the SDK's device. */
  read: { req: { room: number; body: string; timeout?: number }; res: { seq: number; sender: number } };
}

export class SdkPeer {
  private next = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(private readonly proc: ChildProcess, private readonly dir: string) {
    createInterface({ input: proc.stdout! }).on("line", (line) => {
      let reply: { id?: number; result?: unknown; error?: string };
      try {
        reply = JSON.parse(line) as typeof reply;
      } catch {
        return console.log(`[sdk peer] ${line}`);
      }
      const w = reply.id !== undefined ? this.waiting.get(reply.id) : undefined;
      if (!w) return console.log(`[sdk peer] unasked: ${line}`);
      this.waiting.delete(reply.id!);
      if (reply.error !== undefined) w.reject(new Error(`the SDK user: ${reply.error}`));
      else w.resolve(reply.result);
    });
    proc.once("exit", (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`the SDK user's process exited (${code})`));
      this.waiting.clear();
    });
  }

  /** A new SDK client on this run's server (CHATD_E2E_WS / CHATD_E2E_HTTP), nobody signed in yet. */
  static start(): SdkPeer {
    const ws = process.env.CHATD_E2E_WS;
    const http = process.env.CHATD_E2E_HTTP;
    if (!ws || !http) throw new Error("no CHATD_E2E_WS/HTTP: run through playwright.config.ts (its globalSetup starts the server)");
    const dir = mkdtempSync(path.join(tmpdir(), "chatd-sdk-peer-"));
    const python = process.env.CHATD_PYTHON ?? path.join(ROOT, ".venv/bin/python");
    const proc = spawn(python, [path.join(HERE, "sdk_peer.py"), ws, http, dir], { cwd: ROOT, stdio: ["pipe", "pipe", "inherit"] });
    return new SdkPeer(proc, dir);
  }

  call<K extends keyof Ops>(op: K, args: Ops[K]["req"]): Promise<Ops[K]["res"]> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.stdin!.write(`${JSON.stringify({ id, op, ...args })}\n`);
    });
  }

  /** Close its stdin (it signs off and exits), killed if it has not after 10 s; its files are removed. */
  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise((r) => this.proc.once("exit", r));
      this.proc.stdin!.end();
      const kill = setTimeout(() => this.proc.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(kill);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
