// Starts one real chatd for the whole run (e2e/server.py: fresh database, test Postgres/Redis from
// CHAT_TEST_* or embedded ones) and hands its addresses to the specs through the environment
// (CHATD_E2E_HTTP, CHATD_E2E_WS, CHATD_E2E_DATABASE; the workers start after this and inherit it). The returned function
// stops it (the server drops its database on the way out).
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "../..");

function start(): Promise<{ proc: ChildProcess; http: string; ws: string; database: string }> {
  const python = process.env.CHATD_PYTHON ?? path.join(ROOT, ".venv/bin/python");
  const proc = spawn(python, [path.join(HERE, "server.py")], { cwd: ROOT, stdio: ["pipe", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the e2e server did not start in 60 s")), 60_000);
    proc.once("exit", (code) => reject(new Error(`the e2e server exited early (${code})`)));
    proc.once("error", reject);
    createInterface({ input: proc.stdout }).on("line", (line) => {
      if (!line.startsWith("{")) return;
      clearTimeout(timer);
      const { http, ws, database } = JSON.parse(line) as { http: string; ws: string; database: string };
      resolve({ proc, http: http.replace(/\/$/, ""), ws, database });
    });
  });
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once("exit", r));
  proc.stdin!.end(); // server.py stops when its stdin closes
  const kill = setTimeout(() => proc.kill("SIGTERM"), 15_000);
  await exited;
  clearTimeout(kill);
}

export default async function globalSetup(): Promise<() => Promise<void>> {
  const server = await start();
  process.env.CHATD_E2E_HTTP = server.http;
  process.env.CHATD_E2E_WS = server.ws;
  process.env.CHATD_E2E_DATABASE = server.database;
  console.log(`[e2e] server: ${server.http} (websocket ${server.ws})`);
  return () => stop(server.proc);
}
