// Parsers of numeric command-line values, shared by every command so that a bad value gets the same
// message everywhere (commander prints it with the option's name).
import { InvalidArgumentError } from 'commander';
import { availableParallelism } from 'node:os';

export const numberArg =
  (check: (n: number) => boolean, what: string) =>
  (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !check(n)) throw new InvalidArgumentError(`expected ${what}`);
    return n;
  };

export const positive = numberArg((n) => n > 0, 'a positive number');
export const positiveInt = numberArg((n) => Number.isInteger(n) && n > 0, 'a positive integer');
export const wholeNumber = numberArg((n) => Number.isInteger(n) && n >= 0, 'a whole number');

/** A whole number in [min, max], e.g. an image side; the message says why the bound is there. */
export const intInRange = (min: number, max: number, why: string) =>
  numberArg(
    (n) => Number.isInteger(n) && n >= min && n <= max,
    `a whole number from ${min} to ${max} (${why})`,
  );

/** K values of top-K pooling: "1,5,10,50". */
export const kList = (v: string): number[] => {
  const ks = v.split(',').map((s) => Number(s.trim()));
  if (ks.length === 0 || ks.some((k) => !Number.isInteger(k) || k < 1))
    throw new InvalidArgumentError('expected positive integers such as 1,5,10,50');
  return ks;
};

/**
 * A thread count (--workers, --threads): a whole number (0 allowed where `zero` says what it means),
 * capped to the machine's cores with a note: more threads than cores only add memory and switching
 * (each image-decoding worker holds its own buffers), and a typo such as 1000 must not start 1000.
 */
export const threadCount =
  (flag: string, min: 0 | 1) =>
  (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`expected ${min === 0 ? 'a whole number' : 'a positive integer'}`);
    const cores = availableParallelism();
    if (n <= cores) return n;
    process.stderr.write(
      `kep: ${flag} ${n} is more than the ${cores} cores of this machine: using ${cores}\n`,
    );
    return cores;
  };
