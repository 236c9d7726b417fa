// QR device login (docs/protocol.md 3.9). QrSignIn: the sign-in screen of a new browser shows a one-time code as a
// QR (and as text) and waits; QrApprove: a signed-in browser scans (camera) or pastes that code, sees who asks and
// from where, and approves or declines. The new browser's tokens come only to it: the approver never sees them.
import { useEffect, useRef, useState, type FormEvent } from "react";
import * as http from "../http";
import { adopt, type Who } from "../session";
import { codeOf, qrLink, shown } from "../qr";
import type { QrLoginRequest } from "../protocol/types";
import { useStore } from "./hooks";
import { QrCode } from "./QrCode";

type Waiting = { code: string } | { ended: string };

/** The new device's side: a fresh request, shown until approved (then signed in), declined or expired. */
export function QrSignIn({ onAuthed }: { onAuthed: (who: Who) => void }) {
  const [state, setState] = useState<Waiting | null>(null);
  const [round, setRound] = useState(0); // "New code" starts another request

  useEffect(() => {
    let live = true;
    const gone = new AbortController(); // leaving the screen ends the wait (the request then just expires)
    void (async () => {
      try {
        const started = await http.qrStart();
        if (!live) return;
        setState({ code: started.code });
        for (;;) {
          const answer = await http.qrWait(started.code, started.secret, gone.signal).catch(async (err: { code?: string }) => {
            if (err.code !== "rate_limited" && err.code !== "retry") throw err;
            await new Promise((r) => setTimeout(r, 2_000)); // a busy address or server: ask again shortly
            return { status: "pending" as const, expires_in: 0 };
          });
          if (!live) return;
          if (!("status" in answer)) return onAuthed(adopt(answer));
        }
      } catch (err) {
        const e = err as { code?: string; message: string };
        const why = e.code === "not_found" ? "This code has expired." : e.code === "forbidden" ? "The other device declined." : e.message;
        if (live) setState({ ended: why });
      }
    })();
    return () => {
      live = false;
      gone.abort();
    };
  }, [round]); // eslint-disable-line react-hooks/exhaustive-deps

  return (
    <div className="stack qr-sign-in" aria-live="polite">
      {state === null && <p className="small" role="status">Asking for a code…</p>}
      {state && "code" in state && (
        <>
          <p>On a device where you are signed in, open <strong>Settings › Devices › Link a device</strong> and scan this code, or type it there.</p>
          <QrCode text={qrLink(location.origin, state.code)} label="QR code to sign in from another device" />
          <p className="qr-text"><code data-testid="qr-code-text">{shown(state.code)}</code></p>
          <p className="small">Waiting for approval. The code works once, for two minutes. Never show it to anyone else: whoever approves it lets this browser into their account.</p>
        </>
      )}
      {state && "ended" in state && (
        <>
          <p className="error" role="alert">{state.ended}</p>
          <button type="button" onClick={() => { setState(null); setRound((n) => n + 1); }}>New code</button>
        </>
      )}
    </div>
  );
}

/** The approving device's side: a code from the camera or pasted, who asks, then Approve or Decline. */
export function QrApprove({ initial, onApproved }: { initial?: string; onApproved?: () => void }) {
  const store = useStore();
  const [text, setText] = useState(initial ?? "");
  const [asking, setAsking] = useState<QrLoginRequest | null>(null);
  const [outcome, setOutcome] = useState<{ text: string; error?: boolean } | null>(null);
  const [scanning, setScanning] = useState(false);

  async function look(value: string) {
    setOutcome(null);
    setAsking(null);
    const code = codeOf(value);
    if (!code) return setOutcome({ text: "That is not a sign-in code (20 letters and digits).", error: true });
    try {
      setAsking(await store.client.request("qr_login_preview", { code }));
    } catch (err) {
      setOutcome({ text: (err as Error).message, error: true });
    }
  }

  useEffect(() => {
    // the form's own action, run for a code that came in the link (/qr/{code}); what it resets is already clear
    // eslint-disable-next-line react-hooks/set-state-in-effect
    if (initial) void look(initial);
  }, [initial]); // eslint-disable-line react-hooks/exhaustive-deps

  async function answer(approve: boolean) {
    if (!asking) return;
    try {
      await store.client.request("qr_login_answer", { code: asking.code, approve });
      setOutcome({ text: approve ? "Approved: that device is now signed in as you. It shows in your devices." : "Declined." });
      if (approve) onApproved?.();
    } catch (err) {
      setOutcome({ text: (err as Error).message, error: true });
    }
    setAsking(null);
    setText("");
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    void look(text);
  }

  return (
    <section className="stack" aria-labelledby="qr-approve-title">
      <h3 id="qr-approve-title">Link a device</h3>
      <p className="small">To sign in on another device without a password, choose “QR code” on its sign-in screen and scan the code it shows.</p>
      {scanning ? (
        <QrScanner onCode={(value) => { setScanning(false); setText(shown(codeOf(value) ?? value)); void look(value); }} onCancel={() => setScanning(false)} />
      ) : (
        <button type="button" onClick={() => { setOutcome(null); setScanning(true); }}>Scan QR code</button>
      )}
      <form className="row" onSubmit={submit}>
        <label className="grow">Or type the code<input name="qr-code" autoComplete="off" spellCheck={false} value={text}
          placeholder="XXXXX-XXXXX-XXXXX-XXXXX" onChange={(e) => setText(e.target.value)} /></label>
        <button type="submit">Look up</button>
      </form>
      {asking && (
        <div className="card stack qr-asking" role="group" aria-label="Sign-in request">
          <p><strong>Sign in “{asking.device || "an unnamed device"}” to your account?</strong></p>
          <p className="small">From address <strong>{asking.address}</strong>{asking.user_agent && <><br />{asking.user_agent}</>}</p>
          <p className="small">Approve only a device you are holding yourself. If someone sent you this code or asked you to scan it, decline: they would get into your account.</p>
          <div className="row">
            <button type="button" className="primary" onClick={() => void answer(true)}>Approve</button>
            <button type="button" onClick={() => void answer(false)}>Decline</button>
          </div>
        </div>
      )}
      {outcome && <p className={outcome.error ? "error" : "note"} role={outcome.error ? "alert" : "status"}>{outcome.text}</p>}
    </section>
  );
}

// The browser's own detector where it has one (Chrome on Android and macOS, ...), else jsQR on canvas frames.
interface Detector { detect(source: CanvasImageSource): Promise<{ rawValue: string }[]> }
declare const BarcodeDetector: { new (options: { formats: string[] }): Detector } | undefined;

async function decoder(): Promise<(video: HTMLVideoElement, canvas: HTMLCanvasElement) => Promise<string | null>> {
  if (typeof BarcodeDetector !== "undefined") {
    try {
      const detector = new BarcodeDetector({ formats: ["qr_code"] });
      return async (video) => (await detector.detect(video))[0]?.rawValue ?? null;
    } catch {
      // no QR support in this detector: decode ourselves
    }
  }
  const { default: jsQR } = await import("jsqr"); // bundled (its own chunk), never fetched from elsewhere
  return async (video, canvas) => {
    const w = video.videoWidth, h = video.videoHeight;
    if (!w || !h) return null;
    canvas.width = w;
    canvas.height = h;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    if (!ctx) return null;
    ctx.drawImage(video, 0, 0, w, h);
    return jsQR(ctx.getImageData(0, 0, w, h).data, w, h)?.data ?? null;
  };
}

/** The camera's picture until a QR with a sign-in code is in it. */
function QrScanner({ onCode, onCancel }: { onCode: (text: string) => void; onCancel: () => void }) {
  const video = useRef<HTMLVideoElement>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let stream: MediaStream | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let live = true;
    const canvas = document.createElement("canvas");
    void (async () => {
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
        if (!live || !video.current) return stream.getTracks().forEach((t) => t.stop());
        video.current.srcObject = stream;
        await video.current.play();
        const decode = await decoder();
        const tick = async () => {
          if (!live || !video.current) return;
          const text = await decode(video.current, canvas).catch(() => null);
          if (text && codeOf(text)) return onCode(text);
          timer = setTimeout(() => void tick(), 200);
        };
        void tick();
      } catch (err) {
        if (live) setError(`The camera is not available (${(err as Error).message}). Type the code instead.`);
      }
    })();
    return () => {
      live = false;
      clearTimeout(timer);
      stream?.getTracks().forEach((t) => t.stop());
    };
  }, []); // eslint-disable-line react-hooks/exhaustive-deps

  return (
    <div className="stack">
      {error ? <p className="error" role="alert">{error}</p> : <video ref={video} className="qr-camera" muted playsInline aria-label="Camera" style={{ width: "100%", maxWidth: 360 }} />}
      <button type="button" onClick={onCancel}>Stop scanning</button>
    </div>
  );
}
