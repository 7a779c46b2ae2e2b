/**
 * The numbers the browser page and the estimates share (no imports: the page's engine bundle takes this file too).
 * wllama's heap may grow to 65536 pages of 64 KiB: 4 GiB, whatever the device has (MEMORY64 or not).
 */
export const WASM_MEMORY_LIMIT = 4 * 2 ** 30;
/**
 * About what a phone's browser lets one tab hold before it kills it: iOS Safari ends tabs near 1.5 GiB on
 * 4–6 GB iPhones (wllama issues #18, #23), and Android Chrome is no better on a mid-range phone.
 */
export const PHONE_MEMORY = 1.5 * 2 ** 30;
/** The page's batch: smaller than a server's, since the logits of one batch alone are batch × vocab × 4 B. */
export const BROWSER_BATCH = 256;
