// Parsers of numeric command-line values, shared by every command so that a bad value gets the same
// message everywhere (commander prints it with the option's name).
import { InvalidArgumentError } from 'commander';

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

/** K values of top-K pooling: "1,5,10,50". */
export const kList = (v: string): number[] => {
  const ks = v.split(',').map((s) => Number(s.trim()));
  if (ks.length === 0 || ks.some((k) => !Number.isInteger(k) || k < 1))
    throw new InvalidArgumentError('expected positive integers such as 1,5,10,50');
  return ks;
};
