// Subtitle files (ASS, SRT, WebVTT) as WebVTT text, for a <track> the browser renders itself.

function vttTime(assTime) {
  // ASS: H:MM:SS.cc (centiseconds) -> WebVTT: HH:MM:SS.mmm
  const match = /^(\d+):(\d{1,2}):(\d{1,2})[.,](\d{1,3})$/.exec(assTime.trim());
  if (!match) return null;
  const [, h, m, s, frac] = match;
  const ms = frac.padEnd(3, "0").slice(0, 3);
  return `${h.padStart(2, "0")}:${m.padStart(2, "0")}:${s.padStart(2, "0")}.${ms}`;
}

function cueText(text) {
  return text
    .replace(/\{[^}]*\}/g, "") // override tags: {\i1}, {\pos(…)}
    .replace(/\\[Nn]/g, "\n")
    .replace(/\\h/g, "\u00a0")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/-->/g, "--&gt;")
    .trim();
}

/** The Dialogue lines of an ASS/SSA script as WebVTT. */
export function assToVtt(source) {
  const lines = source.replace(/\r\n?/g, "\n").split("\n");
  let inEvents = false;
  let format = ["Layer", "Start", "End", "Style", "Name", "MarginL", "MarginR", "MarginV", "Effect", "Text"];
  const cues = [];
  for (const line of lines) {
    const trimmed = line.trim();
    if (trimmed.startsWith("[")) {
      inEvents = trimmed.toLowerCase() === "[events]";
      continue;
    }
    if (!inEvents) continue;
    if (trimmed.startsWith("Format:")) {
      format = trimmed.slice(7).split(",").map((f) => f.trim());
    } else if (trimmed.startsWith("Dialogue:")) {
      const fields = trimmed.slice(9).split(",");
      const head = fields.slice(0, format.length - 1).map((f) => f.trim());
      const text = fields.slice(format.length - 1).join(",");
      const start = vttTime(head[format.indexOf("Start")] || "");
      const end = vttTime(head[format.indexOf("End")] || "");
      const body = cueText(text);
      if (start && end && body) cues.push(`${start} --> ${end}\n${body}`);
    }
  }
  return `WEBVTT\n\n${cues.join("\n\n")}\n`;
}

export function srtToVtt(source) {
  const body = source
    .replace(/\r\n?/g, "\n")
    .replace(/(\d{2}:\d{2}:\d{2}),(\d{3})/g, "$1.$2")
    .trim();
  return `WEBVTT\n\n${body}\n`;
}

export function toVtt(format, text) {
  if (format === "ass") return assToVtt(text);
  if (format === "srt") return srtToVtt(text);
  return text.startsWith("WEBVTT") ? text : `WEBVTT\n\n${text}`;
}
