/// <reference types="vitest" />
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { defineConfig, type Plugin } from "vite";
import react from "@vitejs/plugin-react";
import { VitePWA } from "vite-plugin-pwa";
import { SHARE_ACTION, SHARE_FIELD } from "./src/swNames";

const THEME = "#2b6cb0";

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
  plugins: [
    react(),
    emojiData(),
    // The installable app: manifest.webmanifest (linked from index.html by the plugin) and /sw.js built from
    // src/sw.ts with the list of files to precache. The page registers the worker itself (src/pwa.ts): an
    // inline registration script would break the server's CSP (script-src 'self').
    VitePWA({
      strategies: "injectManifest",
      srcDir: "src",
      filename: "sw.ts",
      injectRegister: false,
      includeManifestIcons: false, // the icons are in the glob below
      injectManifest: {
        rollupFormat: "iife", // a classic worker script, as /sw.js always was
        // and manifest.webmanifest, which the plugin adds. Not the emoji picker's data (half a megabyte):
        // the picker keeps it in localStorage once opened, so it works offline after that.
        globPatterns: ["**/*.{html,js,css,svg,png,wasm}"], // wasm: libolm (end-to-end encryption)
        // index.html is served as "/" (the server has no /index.html)
        manifestTransforms: [async (entries) => ({
          manifest: entries.map((e) => (e.url === "index.html" ? { ...e, url: "/" } : e)),
          warnings: [],
        })],
      },
      manifest: {
        id: "/",
        name: "chatd",
        short_name: "chatd",
        description: "Realtime chat",
        start_url: "/",
        scope: "/",
        display: "standalone",
        theme_color: THEME,
        background_color: "#f4f6f8",
        // pictures shared from other apps (the share sheet) come to the service worker (src/sw/share.ts)
        share_target: {
          action: SHARE_ACTION,
          method: "POST",
          enctype: "multipart/form-data",
          params: { files: [{ name: SHARE_FIELD, accept: ["image/*"] }] },
        },
        // made from public/favicon.svg by `npm run icons`
        icons: [
          { src: "/pwa-192x192.png", sizes: "192x192", type: "image/png" },
          { src: "/pwa-512x512.png", sizes: "512x512", type: "image/png" },
          { src: "/maskable-icon-512x512.png", sizes: "512x512", type: "image/png", purpose: "maskable" },
        ],
      },
    }),
  ],
  server: { proxy: { "/api": "http://127.0.0.1:8766" } },
  build: { outDir: "dist", sourcemap: false, chunkSizeWarningLimit: 600 },
  test: { environment: "node", include: ["tests/**/*.test.ts"] },
});
