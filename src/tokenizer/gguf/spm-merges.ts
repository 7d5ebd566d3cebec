// A SentencePiece BPE vocabulary stores scores, not merges; Hugging Face's BPE
// model needs merges. SentencePiece merges the adjacent pair whose joined piece
// has the highest score, which is a BPE whose merge ranks follow the joined
// piece's score. This is the rule of `SentencePieceExtractor` in `tokenizers`
// (and of transformers' GGUF converter): every split of every piece into two
// pieces that are both in the vocabulary, ordered by the piece's score
// (highest first), ties in vocabulary order, then by the halves' ids.

export function mergesFromScores(tokens: readonly string[], scores: ArrayLike<number>): [string, string][] {
  const ids = new Map<string, number>();
  tokens.forEach((token, id) => {
    if (!ids.has(token)) ids.set(token, id);
  });
  const merges: { left: string; right: string; score: number; id: number; leftId: number; rightId: number }[] = [];
  tokens.forEach((token, id) => {
    // Split by code point, as Python slices strings.
    const chars = Array.from(token);
    for (let cut = 1; cut < chars.length; cut++) {
      const left = chars.slice(0, cut).join('');
      const right = chars.slice(cut).join('');
      const leftId = ids.get(left);
      const rightId = ids.get(right);
      if (leftId !== undefined && rightId !== undefined) merges.push({ left, right, score: scores[id], id, leftId, rightId });
    }
  });
  merges.sort((a, b) => b.score - a.score || a.id - b.id || a.leftId - b.leftId || a.rightId - b.rightId);
  return merges.map((m) => [m.left, m.right]);
}
