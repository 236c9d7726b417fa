// The optional notification sound (Settings, off by default): a short two-note chime made with Web Audio,
// so nothing is downloaded. The choice is this browser's (localStorage), like the read-receipt switch.
const KEY = "chatd.sound";

export const soundEnabled = (): boolean => typeof localStorage !== "undefined" && localStorage.getItem(KEY) === "on";

export function setSoundEnabled(on: boolean): void {
  if (on) localStorage.setItem(KEY, "on");
  else localStorage.removeItem(KEY);
}

let ctx: AudioContext | null = null;

/** Play the chime (when the setting is on). Browsers may keep audio suspended until the user has
 * interacted with the page; then this is silent, which is fine. */
export function chime(force = false): void {
  if (!force && !soundEnabled()) return;
  try {
    ctx ??= new AudioContext();
    void ctx.resume().catch(() => undefined);
    const t = ctx.currentTime;
    for (const [i, freq] of [880, 1318.5].entries()) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "sine";
      osc.frequency.value = freq;
      const start = t + i * 0.09;
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.18, start + 0.015);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.22);
      osc.connect(gain).connect(ctx.destination);
      osc.start(start);
      osc.stop(start + 0.25);
    }
  } catch {
    /* no Web Audio here */
  }
}
