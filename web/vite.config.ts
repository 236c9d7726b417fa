/// <reference types="vitest" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import { VitePWA } from "vite-plugin-pwa";
import { SHARE_ACTION, SHARE_FIELD } from "./src/swNames";

const THEME = "#2b6cb0";

// `npm run dev` proxies the HTTP side of a local chatd (serve.sh's default port) so /api works.
export default defineConfig({
  plugins: [
    react(),
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
        globPatterns: ["**/*.{html,js,css,svg,png}"], // and manifest.webmanifest, which the plugin adds
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
        // made from public/favicon.svg by `npm run icons`
        // pictures shared from other apps (the share sheet) come to the service worker (src/sw/share.ts)
        share_target: {
          action: SHARE_ACTION,
          method: "POST",
          enctype: "multipart/form-data",
          params: { files: [{ name: SHARE_FIELD, accept: ["image/*"] }] },
        },
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
