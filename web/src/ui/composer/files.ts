// Files a user drops, pastes or picks, before they are sent: what is in a DataTransfer, and how each
// one is previewed.

/** How many files one drop or paste may stage: more is almost always a mistake (a whole folder). */
export const MAX_STAGED = 10;

export type PreviewKind = "image" | "video" | "audio" | "file";

export function previewKind(mime: string): PreviewKind {
  if (/^image\/(jpeg|png|gif|webp|avif|bmp)$/.test(mime)) return "image";
  if (mime.startsWith("video/")) return "video";
  if (mime.startsWith("audio/")) return "audio";
  return "file";
}

/** The files a drop or paste carries (text, links and HTML are left to the browser). */
export function filesIn(data: DataTransfer | null): File[] {
  if (!data) return [];
  if (data.files?.length) return [...data.files];
  const out: File[] = [];
  for (const item of data.items ?? []) {
    if (item.kind !== "file") continue;
    const f = item.getAsFile();
    if (f) out.push(f);
  }
  return out;
}

/** The files a paste carries. A paste that also has plain text is text: spreadsheet and word processor
 * copies add a picture of the selection, and people mean the words. */
export function pastedFiles(data: DataTransfer | null): File[] {
  if (!data || data.getData("text/plain").trim()) return [];
  return filesIn(data);
}

/** Whether a drag carries files (during dragover only the types can be read, not the files). */
export function dragHasFiles(data: DataTransfer | null): boolean {
  return !!data && [...(data.types ?? [])].includes("Files");
}

/** The problems a file has before any byte is sent (the server judges the rest and says why). */
export function fileProblem(file: File): string | null {
  if (file.size === 0) return "This file is empty (folders cannot be sent)";
  return null;
}
