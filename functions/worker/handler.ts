// Placeholder until the worker lands: answers 501.
export async function handle(_event: unknown, _context: unknown) {
  return { statusCode: 501, body: JSON.stringify({ error: "not implemented" }) };
}
