/**
 * What gguf-py's SpecialVocab (gguf/vocab.py) reads from a Hugging Face folder besides the vocabulary: the merges,
 * the bos/eos/unk/sep/pad/… ids, add_bos/add_eos/add_sep, the chat template and the normalizer flags — with its
 * precedence rules, so a converted GGUF carries the values llama.cpp's converter would write.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { kv } from '../gguf/writer.js';
import type { KV } from '../gguf/types.js';
import { readSmallFile } from '../util/files.js';

export type Json = Record<string, unknown>;

export interface AddedTokenJson {
  id: number;
  content: string;
  special?: boolean;
  normalized?: boolean;
}

export interface SpecialVocab {
  merges: string[];
  /** Special token type → id, in the order SpecialVocab sets them (first one wins). */
  ids: Map<string, number>;
  /** add_{type}_token flags, in the order SpecialVocab sets them (a later value overwrites in place). */
  add: Map<string, boolean>;
  chatTemplate?: string | { name: string; template: string }[];
  lowercase?: boolean;
  stripAccents?: boolean;
}

/** SpecialVocab's default special_token_types. */
const TYPES = ['bos', 'eos', 'unk', 'sep', 'pad', 'cls', 'mask'];

/** gguf_writer's add_{type}_token_id keys; cls has no handler there, so it is never written. */
const ID_KEYS: Record<string, string> = {
  bos: 'tokenizer.ggml.bos_token_id', eos: 'tokenizer.ggml.eos_token_id', unk: 'tokenizer.ggml.unknown_token_id',
  sep: 'tokenizer.ggml.seperator_token_id', pad: 'tokenizer.ggml.padding_token_id', mask: 'tokenizer.ggml.mask_token_id',
  eot: 'tokenizer.ggml.eot_token_id', eom: 'tokenizer.ggml.eom_token_id',
};
const ADD_KEYS: Record<string, string> = {
  bos: 'tokenizer.ggml.add_bos_token', eos: 'tokenizer.ggml.add_eos_token', sep: 'tokenizer.ggml.add_sep_token',
};

/** Python truthiness of a JSON value, which SpecialVocab's `if x:` tests rely on. */
function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const specialId = (entry: unknown): unknown => obj(obj(entry).SpecialToken).id;

/**
 * tokenizer.json's merges as gguf writes them: "a b" strings as they are; the pair form of transformers >= 4.45
 * joined with a space, a space inside a part written as U+0120 (chr(ord(' ') + 256)) as SpecialVocab does.
 */
export function mergeStrings(merges: unknown, file: string): string[] {
  if (!Array.isArray(merges) || merges.length === 0) return [];
  if (typeof merges[0] === 'string') return merges as string[];
  if (Array.isArray(merges[0]) && merges[0].length === 2 && typeof merges[0][0] === 'string') {
    return merges.map((pair) => (pair as string[]).map((part) => part.replaceAll(' ', '\u0120')).join(' '));
  }
  throw new UserError(`${file}: model.merges is neither "a b" strings nor ["a", "b"] pairs; restore the model's own tokenizer.json`);
}

/** SpecialVocab(dir, load_merges=True), given the parsed tokenizer.json and tokenizer_config.json (if any). */
export function readSpecialVocab(dir: string, tj: Json, config: Json | undefined, tjPath: string): SpecialVocab {
  // SpecialVocab falls back on merges.txt when tokenizer.json has no merges; we never need it: the folder's
  // tokenizer.json is required, and without its merges it would not hash to a known pre-tokenizer anyway.
  const sv: SpecialVocab = { merges: mergeStrings(obj(tj.model).merges, tjPath), ids: new Map(), add: new Map() };
  const types = [...TYPES];
  const tc = config; // mutated below exactly where SpecialVocab mutates its tokenizer_config
  const added = (Array.isArray(tj.added_tokens) ? tj.added_tokens : []) as AddedTokenJson[];

  const setId = (typ: string, id: unknown) => {
    if (typeof id !== 'number' || !Number.isInteger(id)) return;
    if (id < 0) throw new UserError(`${dir}: the ${typ} token id is ${id}; a token id cannot be negative — fix config.json or tokenizer_config.json`);
    if (!sv.ids.has(typ)) sv.ids.set(typ, id);
  };

  normalizerFlags(sv, tj.normalizer);

  let sBos: unknown = tc?.bos_token, sCls: unknown = tc?.cls_token, sEos: unknown = tc?.eos_token, sSep: unknown = tc?.sep_token;
  if (!truthy(sBos) && truthy(sCls) && truthy(tc)) tc!.bos_token = sBos = sCls;
  if (!truthy(sEos) && truthy(sSep) && truthy(tc)) tc!.eos_token = sEos = sSep;
  const post = obj(tj.post_processor);
  if (truthy(post)) {
    const procs = (Array.isArray(post.processors) ? post.processors : [post]).map(obj);
    for (const p of procs) {
      if (p.type === 'RobertaProcessing') {
        sv.add.set('bos', true); sv.add.set('eos', true); sv.add.set('sep', true);
        if (!truthy(sCls) && truthy(tc)) tc!.cls_token = sCls = Array.isArray(p.cls) ? p.cls[0] : sBos;
        if (!truthy(sSep) && truthy(tc)) tc!.sep_token = sSep = Array.isArray(p.sep) ? p.sep[0] : sEos;
        continue;
      }
      if (p.type !== 'TemplateProcessing') continue;
      // SpecialVocab's "crude parsing" of TemplateProcessing: a leading special token means add_bos, a trailing one add_eos.
      const single = (Array.isArray(p.single) ? p.single : []) as unknown[];
      let pair = (Array.isArray(p.pair) ? p.pair : []) as unknown[];
      let first: unknown, last: unknown;
      if (single.length > 1) {
        first = specialId(single[0]);
        if (truthy(first)) {
          if (!truthy(tc)) sBos = first;
          else if (first !== sBos && first !== sCls) {
            if (!truthy(sBos)) tc!.bos_token = sBos = first;
            if (!truthy(sCls)) tc!.cls_token = sCls = first;
          }
          sv.add.set('bos', first === sBos || first === sCls);
        }
        last = specialId(single[single.length - 1]);
        if (truthy(last)) {
          if (!truthy(tc)) sEos = last;
          else if (last !== sEos) {
            // The old eos becomes eot (or eom) and the template's trailing token the eos.
            if (!types.includes('eot')) { types.push('eot'); tc!.eot_token = sEos; }
            else if (!types.includes('eom')) { types.push('eom'); tc!.eom_token = sEos; }
            tc!.eos_token = sEos = last;
          }
          sv.add.set('eos', last === sEos);
        }
      }
      if (pair.length) {
        const start = truthy(first) && specialId(pair[0]) === first ? 1 : 0;
        const stop = truthy(last) && specialId(pair[pair.length - 1]) === last ? pair.length - 1 : pair.length;
        pair = pair.slice(start, stop);
        if (pair.length) {
          const a = obj(obj(pair[0]).Sequence).id, b = obj(obj(pair[pair.length - 1]).Sequence).id;
          const middle = pair.slice(1, -1);
          if (a === 'A' && b === 'B' && middle.length) {
            // A [sep] [eos] B
            let addSep = false;
            const e0 = specialId(middle[0]);
            if (truthy(e0) && (e0 === sSep || e0 === sEos) && !truthy(last)) addSep = true;
            if (middle.length === 2) {
              const e1 = specialId(middle[1]);
              if (truthy(e1) && (e1 === sSep || e1 === sEos)) addSep = true;
            }
            sv.add.set('sep', addSep);
            if (addSep && !truthy(sSep) && truthy(tc)) tc!.sep_token = sEos;
          }
        }
      }
    }
  }
  if (!truthy(tc)) {
    configIds(dir, types, setId);
    return sv;
  }

  sv.chatTemplate = chatTemplate(dir, tc!);
  for (const typ of types) {
    const addEntry = tc![`add_${typ}_token`];
    if (typeof addEntry === 'boolean') sv.add.set(typ, addEntry);
    const entry = tc![`${typ}_token`];
    const content = typeof entry === 'string' ? entry : typeof obj(entry).content === 'string' ? (obj(entry).content as string) : undefined;
    if (content === undefined) continue;
    const hit = added.find((t) => t.content === content);
    // SpecialVocab skips a name it cannot find; for bos and eos that makes a model that never starts or never stops.
    if (!hit && (typ === 'bos' || typ === 'eos') && !Object.hasOwn(obj(obj(tj.model).vocab), content)) {
      throw new UserError(`${join(dir, 'tokenizer_config.json')}: ${typ}_token ${JSON.stringify(content)} is not a token of tokenizer.json; set it to one of its tokens (Llama-3: <|begin_of_text|>, <|end_of_text|>, <|eot_id|>)`);
    }
    // SpecialVocab looks the name up among the added tokens only; a plain vocabulary token leaves the id to config.json.
    setId(typ, hit?.id);
  }
  configIds(dir, types, setId);
  return sv;
}

/** SpecialVocab._try_load_from_config_json: config.json's {type}_token_id (or text_config's) where not set yet. */
function configIds(dir: string, types: string[], setId: (typ: string, id: unknown) => void) {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) return;
  let config: Json;
  try {
    config = obj(JSON.parse(readSmallFile(path, 'config.json')));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${path} is not valid JSON (${(e as Error).message}); restore the model's own config.json`);
  }
  for (const typ of types) {
    let id = config[`${typ}_token_id`];
    if ((id === undefined || id === null) && 'text_config' in config) id = obj(config.text_config)[`${typ}_token_id`];
    setId(typ, id);
  }
}

/** tokenizer_config.json's chat_template, else chat_template.jinja (with additional_chat_templates/), else chat_template.json. */
function chatTemplate(dir: string, tc: Json): SpecialVocab['chatTemplate'] {
  let alt: unknown;
  const jinja = join(dir, 'chat_template.jinja');
  const json = join(dir, 'chat_template.json');
  if (existsSync(jinja)) {
    alt = readSmallFile(jinja, 'chat template');
    const extraDir = join(dir, 'additional_chat_templates');
    const extra = existsSync(extraDir) ? readdirSync(extraDir).filter((f) => f.endsWith('.jinja')).sort() : [];
    if (extra.length) {
      alt = [{ name: 'default', template: alt }, ...extra.map((f) => ({ name: f.slice(0, -'.jinja'.length), template: readSmallFile(join(extraDir, f), 'chat template') }))];
    }
  } else if (existsSync(json)) {
    try {
      alt = obj(JSON.parse(readSmallFile(json, 'chat_template.json'))).chat_template;
    } catch (e) {
      if (e instanceof UserError) throw e;
      throw new UserError(`${json} is not valid JSON (${(e as Error).message}); restore the model's own file`);
    }
  }
  const t = 'chat_template' in tc ? tc.chat_template : alt;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) return t.map((c) => ({ name: String(obj(c).name ?? ''), template: obj(c).template as string }));
  return undefined; // null, or a bad type SpecialVocab ignores with a warning
}

function normalizerFlags(sv: SpecialVocab, n: unknown) {
  const norm = obj(n);
  if (norm.type === 'Lowercase') sv.lowercase = true;
  else if (norm.type === 'StripAccents') sv.stripAccents = true;
  else if (norm.type === 'BertNormalizer') {
    if ('lowercase' in norm) sv.lowercase = norm.lowercase as boolean;
    if ('strip_accents' in norm) sv.stripAccents = norm.strip_accents as boolean;
  } else if (norm.type === 'Sequence') for (const x of (Array.isArray(norm.normalizers) ? norm.normalizers : [])) normalizerFlags(sv, x);
}

/** SpecialVocab.add_to_gguf: the keys in the order it adds them. */
export function specialVocabKVs(sv: SpecialVocab): KV[] {
  const out: KV[] = [];
  if (sv.merges.length) out.push(kv.strs('tokenizer.ggml.merges', sv.merges));
  for (const [typ, id] of sv.ids) if (ID_KEYS[typ]) out.push(kv.u32(ID_KEYS[typ], id));
  for (const [typ, v] of sv.add) if (ADD_KEYS[typ]) out.push(kv.bool(ADD_KEYS[typ], v));
  out.push(...chatTemplateKVs(sv.chatTemplate));
  if (sv.lowercase !== undefined && sv.lowercase !== null) out.push(kv.bool('tokenizer.ggml.normalizer.lowercase', !!sv.lowercase));
  if (sv.stripAccents !== undefined && sv.stripAccents !== null) out.push(kv.bool('tokenizer.ggml.normalizer.strip_accents', !!sv.stripAccents));
  return out;
}

/** gguf_writer.add_chat_template: a list becomes tokenizer.chat_template.{name} keys, their names, and the default. */
function chatTemplateKVs(t: SpecialVocab['chatTemplate']): KV[] {
  if (t === undefined) return [];
  if (typeof t === 'string') return [kv.str('tokenizer.chat_template', t)];
  const named = new Map<string, string>();
  let def: string | undefined;
  for (const c of t) {
    const name = c.name.replace(/[^A-Za-z0-9]/gu, '_');
    if (!name || typeof c.template !== 'string') continue;
    if (name === 'default') def = c.template;
    else named.set(name, c.template);
  }
  const out: KV[] = [...named].map(([name, tpl]) => kv.str(`tokenizer.chat_template.${name}`, tpl));
  if (named.size) out.push(kv.strs('tokenizer.chat_templates', [...named.keys()]));
  if (def !== undefined) out.push(kv.str('tokenizer.chat_template', def));
  return out;
}
