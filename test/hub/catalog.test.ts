import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { NATIVE_TEMPLATES, TEMPLATE_NAMES } from '../../src/chat/templates.js';
import {
  CATALOG, type CatalogModel, DEFAULT_MODEL_NAME, findModel, HUB_IDS, hubUrl, KINDS, modelHubs, modelRepos,
} from '../../src/hub/catalog.js';
import { closest, editDistance } from '../../src/util/similar.js';
import { ROOT } from '../helpers/models.js';

const EOT = '<|eot_id|>';
const END_OF_TEXT = '<|end_of_text|>';
const named = (name: string): CatalogModel => {
  const m = CATALOG.find((x) => x.name === name);
  assert.ok(m, `no catalog entry ${name}`);
  return m;
};

test('catalog entries are well-formed', () => {
  const names = CATALOG.map((m) => m.name);
  assert.equal(new Set(names).size, names.length, 'names are unique');
  for (const m of CATALOG) {
    const at = `(${m.name})`;
    assert.match(m.name, /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/, `name ${at}`);
    assert.ok(m.name.length <= 28, `short name ${at}`);
    assert.ok(m.title && m.publisher, `title and publisher ${at}`);
    assert.ok(['Llama-3', 'Llama-3.1'].includes(m.family), `family ${at}`);
    assert.match(m.size, /^(\d+x)?\d+B$/, `size ${at}`);
    assert.ok(m.kind.length > 0 && m.kind.every((k) => (KINDS as readonly string[]).includes(k)), `kinds ${m.kind} ${at}`);
    assert.ok(TEMPLATE_NAMES.includes(m.template), `template ${m.template} ${at}`);
    // The stop token must be one the template itself stops on; a model's own (jinja) template stops on
    // whichever end token its source names, so it must be one of those we know.
    const stops = NATIVE_TEMPLATES[m.template]?.stops ?? [EOT, END_OF_TEXT, '<|im_end|>', '<|end|>'];
    assert.ok(stops.includes(m.stop), `stop ${m.stop} for ${m.template} ${at}`);
    for (const repo of modelRepos(m)) assert.match(repo, /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/, `repo id ${repo} ${at}`);
    for (const [site, url] of Object.entries(m.sources)) {
      if (!(HUB_IDS as readonly string[]).includes(site)) assert.match(url!, /^https:\/\/[^\s]+$/, `${site} URL ${at}`);
    }
    for (const g of Object.values(m.gguf ?? {})) {
      for (const [quant, file] of Object.entries(g!.files)) {
        assert.match(quant, /^[A-Z0-9_]+$/, `quant ${quant} ${at}`);
        assert.match(file, /^[^/\\]+\.gguf$/, `gguf file ${file} ${at}`);
      }
    }
    // pull can fetch exactly the entries that are on a hub.
    assert.equal(m.pullable, modelHubs(m).length > 0, `pullable ${at}`);
    // Context: Llama-3.1 entries run at 131072, Llama-3 at 8192 unless they are long-context versions.
    if (m.family === 'Llama-3.1') assert.equal(m.contextLength, 131072, at);
    else if (!m.kind.includes('long-context')) assert.equal(m.contextLength, 8192, at);
    else assert.ok(m.contextLength > 8192, at);
  }
  assert.equal(CATALOG.length, 31);
});

test('shareAI v1 (and the v1 line) use the llama3-v1 template and stop at <|end_of_text|>', () => {
  const v1 = named('llama3-8b-sft-zh-v1');
  assert.deepEqual([v1.template, v1.stop, v1.kind], ['llama3-v1', END_OF_TEXT, ['base+SFT']]);
  assert.equal(v1.pullable, false, 'v1 is on OpenCSG and WiseModel only');
  const v1Format = CATALOG.filter((m) => m.template === 'llama3-v1');
  assert.deepEqual(v1Format.map((m) => m.name), ['llama3-8b-sft-zh-v1', 'llama3-8b-sft-zh-v2']);
  for (const m of v1Format) assert.equal(m.stop, END_OF_TEXT, m.name);
  // …and every Llama-3 Instruct / 3.1 fine-tune on Meta's format stops at <|eot_id|>.
  for (const m of CATALOG.filter((x) => x.template === 'llama3' || x.template === 'llama3.1')) assert.equal(m.stop, EOT, m.name);
  for (const m of CATALOG.filter((x) => x.family === 'Llama-3.1' && x.template !== 'jinja')) assert.equal(m.template, 'llama3.1', m.name);
});

test('facts from the README hold', () => {
  const def = named(DEFAULT_MODEL_NAME);
  assert.equal(DEFAULT_MODEL_NAME, 'llama3.1-8b-dpo-zh');
  assert.deepEqual([def.family, def.size, def.kind, def.template, def.contextLength], ['Llama-3.1', '8B', ['instruct+DPO'], 'llama3.1', 131072]);
  for (const part of ['beta 0.5', 'rank 128', 'alpha 256', 'lm_head', 'input_layernorm', 'post_attention_layernorm', 'norm trained']) {
    assert.ok(def.recipe!.includes(part), `recipe has "${part}"`);
  }
  // The GGUF the README links, and the one the store treats as the default model, are the same file.
  assert.deepEqual(def.gguf?.huggingface, { repo: 'shareAI/llama3.1-8b-instruct-dpo-zh', files: { Q4_K_M: 'llama3.1_8b_chinese_chat_q4_k_m-shareAI.gguf' } });
  assert.equal(def.sources.modelscope, 'shareAI/llama3.1-8b-instruct-dpo-zh');

  const dpo = named('llama3-8b-dpo-zh');
  assert.equal(dpo.sources.modelscope, 'baicai003/Llama3-Chinese-instruct-DPO-beta0.5');
  assert.equal(dpo.sources.huggingface, undefined, 'the README links ModelScope only');
  assert.deepEqual(dpo.gguf, { modelscope: { repo: 'shareAI/llama-3-8b-Instruct-dpo-chinese-loftq-gguf', files: {} } });
  assert.match(dpo.recipe!, /beta 0\.5/);

  // "28k上下文": 28 × 1024 tokens (Unicom's own README: "支持28K上下文输入"). Its config.json could not be read
  // offline; the catalog states the advertised length and says so in a comment.
  const unichat28k = named('unichat-8b-28k');
  assert.equal(unichat28k.contextLength, 28 * 1024);
  assert.deepEqual([unichat28k.template, unichat28k.stop], ['jinja', END_OF_TEXT], "Unicom's Human:/Assistant: template, eos <|end_of_text|>");
  assert.equal(named('llama3-8b-instruct-262k').contextLength, 262144);

  assert.deepEqual(named('llama3-8b-doc2markmap-lora').kind, ['LoRA adapter', 'domain']);
  assert.equal(named('llama3-8b-doc2markmap-lora').sources.modelscope, 'shareAI/llama3-instruct-8b-cn-doc2markmap-lora');
  for (const n of ['zhuangxialie-8b-sft', 'zhuangxialie-8b-orpo', 'zhuangxialie-8b-dpo']) assert.match(named(n).notes!, /FastChat/);
  assert.deepEqual(['zhuangxialie-8b-sft', 'zhuangxialie-8b-orpo', 'zhuangxialie-8b-dpo'].map((n) => named(n).kind[0]), ['base+SFT', 'base+ORPO', 'instruct+DPO']);
  assert.deepEqual([named('zte-llama3-70b-zh').size, named('wukong-405b-zh').size, named('llama3-8x8b-moe').size], ['70B', '405B', '8x8B']);
  assert.ok(named('llama3-pro-orpo-zh').kind.includes('added blocks'));
  assert.ok(named('wukong-405b-zh').kind.includes('LoRA adapter'));

  // Entries with only a GitHub link cannot be pulled, and say so.
  const githubOnly = CATALOG.filter((m) => Object.keys(m.sources).join() === 'github');
  assert.deepEqual(githubOnly.map((m) => m.name),
    ['llama3-pro-orpo-zh', 'llama3-8x8b-moe', 'zhichen-llama3-8b-zh', 'rookie-llama3-8b-zh', 'hitsz-llama3-8b-zh', 'cogvlm2-llama3']);
  for (const m of githubOnly) assert.equal(m.pullable, false, m.name);
});

test('findModel: by name, by repo id on either hub, by GGUF repo, case-insensitively', () => {
  assert.equal(findModel('llama3.1-8b-dpo-zh')?.name, 'llama3.1-8b-dpo-zh');
  assert.equal(findModel(' LLAMA3-8B-DPO-ZH ')?.name, 'llama3-8b-dpo-zh');
  assert.equal(findModel('shareAI/llama3.1-8b-instruct-dpo-zh')?.name, 'llama3.1-8b-dpo-zh');
  assert.equal(findModel('baicai003/llama3-chinese-instruct-dpo-beta0.5')?.name, 'llama3-8b-dpo-zh');
  assert.equal(findModel('shareAI/llama-3-8b-Instruct-dpo-chinese-loftq-gguf')?.name, 'llama3-8b-dpo-zh');
  assert.equal(findModel('UnicomAI/Unichat-llama3-Chinese-8B-28K')?.name, 'unichat-8b-28k');
  assert.equal(findModel('UnicomLLM/Unichat-llama3-Chinese-8B-28K')?.name, 'unichat-8b-28k');
  assert.equal(findModel('xtuner/llava-llama-3-8b-v1_1-gguf')?.name, 'llava-llama3-8b');
  assert.equal(findModel('meta-llama/Meta-Llama-3-8B'), undefined);
  assert.equal(findModel('llama3'), undefined);
  // A GitHub URL is not a repo id.
  assert.equal(findModel('https://github.com/THUDM/CogVLM2'), undefined);
});

test('hub URLs', () => {
  assert.equal(hubUrl('huggingface', 'a/b'), 'https://huggingface.co/a/b');
  assert.equal(hubUrl('modelscope', 'a/b'), 'https://modelscope.cn/models/a/b');
  assert.deepEqual(modelHubs(named('llama3.1-8b-dpo-zh')), ['huggingface', 'modelscope']);
  assert.deepEqual(modelRepos(named('llama3.1-8b-dpo-zh')), ['shareAI/llama3.1-8b-instruct-dpo-zh']);
});

test('every model link of the README is in the catalog', () => {
  const text = readFileSync(join(ROOT, 'test', 'fixtures', 'seed-model-list.md'), 'utf8');
  const urls = [...new Set(text.match(/https?:\/\/[^\s)）\]]+/g))];
  const lower = (s: string | undefined) => s?.toLowerCase();
  const repos = (hub: 'huggingface' | 'modelscope') => new Set(CATALOG.flatMap((m) => [m.sources[hub], m.gguf?.[hub]?.repo]).map(lower));
  const hf = repos('huggingface');
  const ms = repos('modelscope');
  const sites = new Set(CATALOG.flatMap((m) => [m.sources.opencsg, m.sources.wisemodel, m.sources.openxlab, m.sources.github]));
  const ggufFiles = new Set(CATALOG.flatMap((m) => Object.values(m.gguf?.huggingface?.files ?? {})));
  let checked = 0;
  for (const url of urls) {
    const u = new URL(url);
    const host = u.hostname.replace(/^www\./, '');
    const seg = u.pathname.split('/').filter(Boolean);
    if (host === 'huggingface.co' || host === 'hf-mirror.com') {
      if (seg[0] === 'datasets') continue;
      assert.ok(hf.has(lower(`${seg[0]}/${seg[1]}`)), `${url}: ${seg[0]}/${seg[1]} is not a Hugging Face repo in the catalog`);
      if (seg[2] === 'blob') assert.ok(ggufFiles.has(seg.slice(4).join('/')), `${url}: file not in the catalog`);
    } else if (host === 'modelscope.cn') {
      if (seg[0] !== 'models') continue; // datasets
      assert.ok(ms.has(lower(`${seg[1]}/${seg[2]}`)), `${url}: ${seg[1]}/${seg[2]} is not a ModelScope repo in the catalog`);
    } else if (host === 'github.com') {
      // Links to tools (FastChat) and to the project's own docs are not models.
      if (url.startsWith('https://github.com/lm-sys/') || url.startsWith('https://github.com/CrazyBoyM/')) continue;
      assert.ok(sites.has(url), `${url} is not in the catalog`);
    } else if (['opencsg.com', 'wisemodel.cn', 'openxlab.org.cn'].includes(host)) {
      if (seg[0] !== 'models') continue; // openxlab.org.cn/apps: a demo, not weights
      assert.ok(sites.has(url), `${url} is not in the catalog`);
    } else {
      continue; // articles, videos, demos
    }
    checked++;
  }
  // 11 Hugging Face / hf-mirror links, 15 ModelScope models, 3 OpenCSG, 2 WiseModel, 1 OpenXLab, 6 GitHub projects.
  assert.equal(checked, 38);
});

test('closest names for a typo', () => {
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('', 'abc'), 3);
  assert.deepEqual(closest('llama3.1-8b-dpo', CATALOG.map((m) => m.name), 2), ['llama3.1-8b-dpo-zh', 'llama3-8b-dpo-zh']);
  assert.deepEqual(closest('dolphin', CATALOG.map((m) => m.name), 1), ['dolphin-2.9-llama3-8b']);
  assert.deepEqual(closest('unichat-8b-28', CATALOG.map((m) => m.name), 2), ['unichat-8b-28k', 'unichat-8b']);
});
