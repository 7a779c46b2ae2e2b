import { existsSync } from 'node:fs';
import { synthModel } from '../synth/model.js';
import { demoModelPath } from './store.js';

/** What the built-in demo model answers to anything. */
export const DEMO_REPLY = '你好！我是内置演示模型，只会说这一句话；下载真正的中文Llama后就能聊天了。';

/** The built-in demo model: a tiny scripted model (41 MB), made on first use in a second or two. */
export async function ensureDemoModel(): Promise<string> {
  const path = demoModelPath();
  if (!existsSync(path)) {
    await synthModel(path, { preset: 'tiny', type: 'f16', seed: 0, reply: DEMO_REPLY, stop: 'eot', name: 'llama3-zh demo (scripted)' });
  }
  return path;
}
