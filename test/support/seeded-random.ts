// One seeded PRNG for the fuzz suites, so that a failing seed replays the same inputs everywhere.
// Also reachable as '@peregrine/testkit/seeded-random': fuzz children and workers import only this
// file, not the index (which loads the gRPC and Kubernetes clients, seconds of start-up per process).

/**
 * mulberry32: a tiny, fast, seedable PRNG; good enough to pick test inputs, not for anything secret.
 * Returns a function giving numbers in [0, 1); the same seed always gives the same sequence.
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
