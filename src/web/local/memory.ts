/**
 * How much a tab may hold here, before loading a model into it. Browsers say little: Chromium's
 * navigator.deviceMemory gives the device's RAM rounded down to a power of two (at most 8 GB), Safari and
 * Firefox say nothing. A phone's browser kills a tab well below the phone's RAM (iOS Safari near 1.5 GB on 4–6 GB
 * iPhones), so a tab gets half of what the device declares, and a phone that declares nothing gets 1.5 GB.
 */

import { PHONE_MEMORY, WASM_MEMORY_LIMIT } from '../../estimate/browserLimits.js';

export interface MemoryBudget {
  /** Bytes the model may take. */
  bytes: number;
  /** The device's RAM in GB as the browser declares it, if it does. */
  declared?: number;
  phone: boolean;
}

/** iPhones and iPads (iPadOS says "Macintosh" but has touch). */
export function isIos(): boolean {
  return /iPhone|iPad|iPod/.test(navigator.userAgent) || (/Macintosh/.test(navigator.userAgent) && navigator.maxTouchPoints > 1);
}

export function isPhone(): boolean {
  const ua = navigator.userAgent;
  // iPadOS says "Macintosh" but has touch.
  return /Android|iPhone|iPad|iPod|Mobile/i.test(ua) || (/Macintosh/.test(ua) && navigator.maxTouchPoints > 1);
}

export function memoryBudget(): MemoryBudget {
  const declared = (navigator as Navigator & { deviceMemory?: number }).deviceMemory;
  const phone = isPhone();
  const bytes = typeof declared === 'number' && declared > 0
    ? Math.min(WASM_MEMORY_LIMIT, (declared * 2 ** 30) / 2)
    : phone ? PHONE_MEMORY : WASM_MEMORY_LIMIT;
  return { bytes, declared: typeof declared === 'number' ? declared : undefined, phone };
}
