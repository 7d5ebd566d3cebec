// Which tokens can never be part of well-formed UTF-8 text. xgrammar matches
// grammars byte by byte and accepts byte sequences that no UTF-8 decoder does
// (lead bytes 0xF5–0xF7, overlong 0xC0/0xC1 pairs, surrogates): under a
// grammar a random or unlucky model could then emit bytes the front decodes to
// U+FFFD, breaking a string's maxLength or enum. Tokens holding such bytes are
// hidden from grammars. Sequences that only turn invalid across two tokens
// (e.g. 0xE0 then 0x80) stay possible: that needs the matcher's byte state.

/**
 * True when `bytes` contain a byte that never occurs in UTF-8 (0xC0, 0xC1,
 * 0xF5–0xFF) or a lead byte followed, within the token, by a continuation byte
 * it may not take (overlong or surrogate forms: E0 80–9F, ED A0–BF, F0 80–8F,
 * F4 90–BF).
 */
export function neverValidUtf8(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 0xc0 || b === 0xc1 || b >= 0xf5) return true;
    if (i + 1 >= bytes.length) continue;
    const next = bytes[i + 1];
    if (b === 0xe0 && next >= 0x80 && next <= 0x9f) return true;
    if (b === 0xed && next >= 0xa0 && next <= 0xbf) return true;
    if (b === 0xf0 && next >= 0x80 && next <= 0x8f) return true;
    if (b === 0xf4 && next >= 0x90 && next <= 0xbf) return true;
  }
  return false;
}
