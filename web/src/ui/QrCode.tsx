import { useMemo } from "react";
import { renderSVG } from "uqr";

export function QrCode({ text, label }: { text: string; label: string }) {
  const svg = useMemo(() => renderSVG(text, { border: 2 }), [text]);
  const src = `data:image/svg+xml;utf8,${encodeURIComponent(svg)}`;
  return <img className="qr" src={src} alt={label} width={160} height={160} />;
}
