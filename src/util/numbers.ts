import { UserError } from '../errors.js';

export interface NumberRange {
  min?: number;
  max?: number;
  int?: boolean;
}

/** A number the user typed, checked: `top_p 2` is an error that says the range, not a surprise. */
export function parseNumber(label: string, value: string, o: NumberRange = {}, exitCode = 1): number {
  const v = Number(value);
  const range = o.min !== undefined && o.max !== undefined ? ` from ${o.min} to ${o.max}` : o.min !== undefined ? ` of at least ${o.min}` : '';
  if (value.trim() === '' || !Number.isFinite(v) || (o.int && !Number.isInteger(v)) || (o.min !== undefined && v < o.min) || (o.max !== undefined && v > o.max)) {
    throw new UserError(`${label} must be ${o.int ? 'a whole number' : 'a number'}${range} (got ${JSON.stringify(value)})`, exitCode);
  }
  return v;
}
