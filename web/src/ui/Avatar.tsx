import { useState } from "react";
import { avatarColor, initials, isMediaId } from "../store/people";
import { useMediaUrl } from "./hooks";

/**
 * A round picture: the profile picture (or group icon) when the server gave one that is an uploaded image,
 * through a signed link like every other media item; otherwise initials on a colour that is stable per
 * person. A picture that fails to load falls back to the initials.
 */
export function Avatar({ name, seed, image, online, size = 42, className }: {
  name: string; seed: number | string; image?: string; online?: boolean; size?: number; className?: string;
}) {
  const style = { width: size, height: size, fontSize: Math.round(size * 0.4), background: avatarColor(seed) };
  return (
    <span className={`avatar${className ? ` ${className}` : ""}`} style={style} aria-hidden="true" data-avatar={image && isMediaId(image) ? "image" : "initials"}>
      {image && isMediaId(image) ? <Picture id={image} fallback={initials(name)} /> : initials(name)}
      {online && <i className="dot" />}
    </span>
  );
}

function Picture({ id, fallback }: { id: string; fallback: string }) {
  const { url, onError, onLoad } = useMediaUrl(id);
  const [failedUrl, setFailedUrl] = useState<string | undefined>();
  if (!url || url === failedUrl) return <>{fallback}</>; // a fresh link is asked for once; then initials
  return <img src={url} alt="" onLoad={onLoad} onError={() => { setFailedUrl(url); onError(); }} />;
}
