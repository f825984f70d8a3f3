/** Splits a message into plain text and `code` spans (paths, commands), so the UI can set
 *  what core quotes in backticks in a monospace face. */
export interface Segment {
  text: string;
  code: boolean;
}

export function segments(message: string): Segment[] {
  const parts = message.split("`");
  // An odd number of backticks leaves the last one unmatched: keep it as plain text.
  if (parts.length % 2 === 0) return [{ text: message, code: false }];
  return parts.map((text, i) => ({ text, code: i % 2 === 1 })).filter((s) => s.text !== "");
}
