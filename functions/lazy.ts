/** Builds a value on first use and keeps it for the life of the function instance. */
export function lazy<T>(build: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= build());
}
