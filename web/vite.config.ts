/// <reference types="vitest" />
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { defineConfig, type Plugin } from "vite";
import react from "@vitejs/plugin-react";

const require = createRequire(import.meta.url);

/**
 * The emoji picker's data (Emojibase, English), served by us at /emojibase/en/{data,messages}.json instead
 * of a CDN: the app works without the internet and tells no third party when someone opens the picker.
 * data.json keeps only the fields the picker reads (775 KB -> about half).
 */
function emojiData(): Plugin {
  const files = ["data.json", "messages.json"];
  const read = (file: string): string => {
    const text = readFileSync(require.resolve(`emojibase-data/en/${file}`), "utf8");
    if (file !== "data.json") return text;
    type Entry = { label: string; emoji: string; group?: number; subgroup?: number; version: number; tags?: string[]; skins?: Entry[]; tone?: number | number[] };
    const slim = (e: Entry): Entry => ({
      label: e.label, emoji: e.emoji, group: e.group, subgroup: e.subgroup, version: e.version, tags: e.tags, tone: e.tone,
      skins: e.skins?.map(slim),
    });
    return JSON.stringify((JSON.parse(text) as Entry[]).filter((e) => e.group !== undefined).map(slim));
  };
  return {
    name: "chatd-emoji-data",
    configureServer(server) {
      server.middlewares.use("/emojibase/en/", (req, res, next) => {
        const file = req.url?.replace(/^\//, "").split("?")[0] ?? "";
        if (!files.includes(file)) return next();
        res.setHeader("Content-Type", "application/json");
        res.end(read(file));
      });
    },
    generateBundle() {
      for (const file of files) this.emitFile({ type: "asset", fileName: `emojibase/en/${file}`, source: read(file) });
    },
  };
}

// `npm run dev` proxies the HTTP side of a local chatd (serve.sh's default port) so /api works.
export default defineConfig({
  plugins: [react(), emojiData()],
  server: { proxy: { "/api": "http://127.0.0.1:8766" } },
  build: { outDir: "dist", sourcemap: false, chunkSizeWarningLimit: 600 },
  test: { environment: "node", include: ["tests/**/*.test.ts"] },
});
