// Training text for the generated tokenizers. Varied on purpose (prose, code,
// JSON, numbers, a little non-English) so that learned merges resemble a real
// tokenizer's and the test strings exercise multi-byte sequences. Changing
// this text changes every generated vocabulary, so treat it as frozen.

export const TRAINING_CORPUS = String.raw`
The quick brown fox jumps over the lazy dog. The dog did not seem to mind; it was a very lazy dog.
Once upon a time, in a small village at the edge of a great forest, there lived an old woman who kept bees.
Every morning she walked to the hives, lifted the lids, and listened to the humming of thousands of wings.
"They tell me what the weather will be," she said to anyone who asked, and nobody ever asked twice.
In the spring the meadows were full of clover and the honey was pale and sweet; in the autumn it turned dark.
The children of the village were afraid of her, although she had never done anything to frighten them.
One day a traveller arrived with a cart full of books, maps, and strange instruments made of brass and glass.
He asked for a place to stay, and the only door that opened for him was hers.
They talked late into the night about rivers and mountains, about cities he had seen and songs he had heard.
When he left, he gave her a book about the stars, and she gave him a jar of the dark autumn honey.
Science is a way of thinking much more than it is a body of knowledge. Its goal is to find out how the world works.
A language model predicts the next token given the previous tokens. Training minimizes the cross-entropy loss.
Attention lets every position look at every earlier position; the keys and values are cached during generation.
Rotary position embeddings rotate pairs of dimensions by an angle that depends on the position and the frequency.
RMS normalization divides each vector by the root mean square of its elements and multiplies by a learned gain.
The feed-forward block uses a gated linear unit: the gate passes through SiLU and multiplies the up projection.
Grouped-query attention shares each key and value head among several query heads, which saves memory.
Batching many requests together keeps the accelerator busy; continuous batching adds and removes them every step.
A server that streams tokens should send each one as soon as it is ready, and stop when a stop sequence appears.
Temperature scales the logits before sampling; top-p keeps the smallest set of tokens whose probability exceeds p.
The weather today is sunny with a high of 24 degrees and a low of 13. Tomorrow there is a 40% chance of rain.
Meeting notes, 2024-03-15: budget approved ($12,500), launch moved to Q3, next review on the 2nd of April at 10:30.
Order #48213 shipped on 11/02 via express; tracking number 1Z999AA10123456784; estimated delivery: 3-5 days.
Call us at +1 (555) 010-9999 or email support@example.com. Office hours are Monday to Friday, 9am-5pm.
What is 17 times 23? It is 391. What is the square root of 144? It is 12. Pi is about 3.14159265358979.
Please summarize the following article in three sentences, using simple words and no bullet points.
Can you help me write a polite email asking my landlord to fix the heating before the winter starts?
Sure! Here is a short draft you can adapt. Dear Mr. Smith, I hope you are well. I am writing about the heating.
I'm sure it'll be fine; we've done this before, and they're ready. You'd think we'd learned by now, wouldn't you?
Question: Which planet is closest to the sun? Answer: Mercury. Question: Which is the largest? Answer: Jupiter.
Water boils at 100 degrees Celsius at sea level, but at lower temperatures at high altitude, where pressure is lower.
The history of writing begins with clay tablets, continues with papyrus and parchment, and arrives at paper and screens.
Mathematics: if f(x) = x^2 + 3x - 4, then f'(x) = 2x + 3, and the roots are x = 1 and x = -4.
In 1969, two astronauts walked on the Moon while a third orbited above them in the command module.
Good design is as little design as possible. Less, but better, because it concentrates on the essential aspects.
function fibonacci(n) {
  if (n < 2) return n;
  let a = 0, b = 1;
  for (let i = 2; i <= n; i++) {
    const next = a + b;
    a = b;
    b = next;
  }
  return b;
}
export async function fetchJson(url: string, options: RequestInit = {}): Promise<unknown> {
  const response = await fetch(url, { ...options, headers: { 'content-type': 'application/json' } });
  if (!response.ok) throw new Error(\`request failed with status \${response.status}\`);
  return response.json();
}
interface User { id: number; name: string; email: string | null; roles: string[] }
const users: User[] = [{ id: 1, name: 'Ada', email: 'ada@example.com', roles: ['admin'] }];
for (const user of users.filter((u) => u.roles.includes('admin'))) console.log(user.name);
def quicksort(items):
    if len(items) <= 1:
        return items
    pivot = items[len(items) // 2]
    left = [x for x in items if x < pivot]
    middle = [x for x in items if x == pivot]
    right = [x for x in items if x > pivot]
    return quicksort(left) + middle + quicksort(right)

class Stack:
    def __init__(self):
        self._items = []

    def push(self, item):
        self._items.append(item)

    def pop(self):
        if not self._items:
            raise IndexError("pop from empty stack")
        return self._items.pop()

import numpy as np
x = np.linspace(0.0, 1.0, num=100)
y = np.sin(2 * np.pi * x) + 0.1 * np.random.randn(100)
print(f"mean={y.mean():.3f} std={y.std():.3f}")
SELECT name, COUNT(*) AS orders FROM customers JOIN orders ON orders.customer_id = customers.id
WHERE orders.created_at >= '2024-01-01' GROUP BY name ORDER BY orders DESC LIMIT 10;
#include <stdio.h>
int main(void) { for (int i = 0; i < 10; ++i) printf("%d\n", i * i); return 0; }
fn main() { let v: Vec<u32> = (1..=5).map(|x| x * x).collect(); println!("{:?}", v); }
<div class="card"><h2>Title</h2><p>Some <strong>bold</strong> text and a <a href="https://example.com">link</a>.</p></div>
{"name": "get_weather", "description": "Get the current weather for a city", "parameters": {"type": "object",
 "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
 "required": ["city"]}}
{"id": "chatcmpl-123", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant",
 "content": "Hello! How can I help you today?"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 9}}
[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "What time is it?"}]
$ npm install --save-dev typescript && npx tsc --init && git commit -m "Initial commit"
ERROR 2024-05-01T12:34:56Z connection refused (retrying in 5s); WARN disk usage at 91%; INFO server started on :8080
Le renard brun rapide saute par-dessus le chien paresseux. Ça va très bien, merci ! Où est la bibliothèque ?
Der schnelle braune Fuchs springt über den faulen Hund. Schöne Grüße aus München und Köln.
El rápido zorro marrón salta sobre el perro perezoso. ¿Dónde está la estación? Mañana será otro día.
O rápido raposo marrom pula sobre o cão preguiçoso. Ação, coração, informação.
Быстрая коричневая лиса прыгает через ленивую собаку. Привет, как дела?
Η γρήγορη καφέ αλεπού πηδά πάνω από τον τεμπέλη σκύλο.
我们今天去公园散步，天气很好。人工智能正在改变世界。你好，世界！
今日はいい天気ですね。東京の桜はとてもきれいです。ありがとうございます。
안녕하세요, 만나서 반갑습니다. 오늘 날씨가 좋네요.
मैं हिंदी सीख रहा हूँ। नमस्ते दुनिया।
مرحبا بالعالم. كيف حالك اليوم؟
Emoji are text too: 😀 🎉 👍🏽 ❤️ 🚀 🌍 — and so are symbols like © ® ™ € £ ¥ ° ± × ÷ → ≤ ≥ ∞ ✓.
Lists: first, second, third; apples, oranges, pears; red, green, blue; north, south, east, west.
The committee will meet again next week to discuss the proposal, review the feedback, and vote on the changes.
She opened the window, looked at the garden, and decided that the roses needed water before the sun got too hot.
Because the bridge was closed for repairs, the bus took a longer route through the hills and arrived late.
Remember to back up your files regularly, use strong passwords, and keep your software up to date.
The recipe calls for two cups of flour, one cup of sugar, three eggs, a pinch of salt, and a teaspoon of vanilla.
Preheat the oven to 180 degrees, mix the dry ingredients, add the wet ones, and bake for thirty-five minutes.
Running, jumping, swimming and climbing are all good exercise; walking every day is better than nothing.
The players trained harder, the coaches planned smarter, and the fans cheered louder than ever before.
Information, communication, organization, education, transportation, celebration, imagination, generation.
Beautiful, wonderful, powerful, careful, helpful, peaceful, successful, thoughtful, meaningful, colorful.
Quickly, slowly, quietly, loudly, happily, sadly, easily, carefully, finally, usually, really, actually.
Unhappy, undo, unknown, unusual, rebuild, return, review, prepare, predict, discover, disagree, impossible.
`;

/** Extra vocabulary for the English-only WordPiece encoder tokenizer. */
export const ENCODER_EXTRA_WORDS = String.raw`
search query document passage embedding similarity vector retrieval sentence paragraph meaning semantic
cat cats dog dogs bird birds fish horse cow sheep apple banana orange fruit tree flower river mountain sea
car bus train plane bicycle road city town country world house home room door window table chair book
happy sad angry calm fast slow big small hot cold new old good bad young early late first last
`;
