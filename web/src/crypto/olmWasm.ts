// Where the browser fetches libolm's wasm: Vite copies it into the build under a hashed name (and the
// service worker precaches it, vite.config.ts), so encryption works offline and from our own origin (CSP).
// Apart from olm.ts, the only file naming the library (its asset, for the bundler; Node finds it itself).
import wasmUrl from "@towns-protocol/olm/olm.wasm?url";
import { loadOlm } from "./olm";

export const loadOlmInBrowser = (): Promise<void> => loadOlm(wasmUrl);
