// STUB: replaced by the reviewed catalog from the `catalog` branch.
export type HubId = 'huggingface' | 'modelscope';
export interface CatalogModel {
  name: string;
  title: string;
  publisher: string;
  family: 'Llama-3' | 'Llama-3.1';
  size: string;
  kind: string[];
  recipe?: string;
  sources: Partial<Record<HubId, string>> & { opencsg?: string; wisemodel?: string; openxlab?: string; github?: string };
  gguf?: Partial<Record<HubId, { repo: string; files: Record<string, string> }>>;
  template: string;
  stop: string;
  contextLength: number;
  notes?: string;
  pullable: boolean;
}
export const DEFAULT_MODEL_NAME = 'llama3.1-8b-dpo-zh';
export const CATALOG: readonly CatalogModel[] = [{
  name: 'llama3.1-8b-dpo-zh', title: 'shareAI-DPO中文 8B', publisher: 'shareAI', family: 'Llama-3.1', size: '8B', kind: ['instruct+DPO'],
  sources: { huggingface: 'shareAI/llama3.1-8b-instruct-dpo-zh', modelscope: 'shareAI/llama3.1-8b-instruct-dpo-zh' },
  gguf: { huggingface: { repo: 'shareAI/llama3.1-8b-instruct-dpo-zh', files: { Q4_K_M: 'llama3.1_8b_chinese_chat_q4_k_m-shareAI.gguf' } } },
  template: 'llama3.1', stop: '<|eot_id|>', contextLength: 131072, pullable: true,
}];
export function findModel(nameOrRepo: string): CatalogModel | undefined {
  const k = nameOrRepo.toLowerCase();
  return CATALOG.find((m) => m.name === k || Object.values(m.sources).some((r) => r?.toLowerCase() === k) || Object.values(m.gguf ?? {}).some((g) => g?.repo.toLowerCase() === k));
}
