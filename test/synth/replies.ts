/** Replies the synth tests make models say: JSON tool calls as Meta's Llama-3.1 writes them, and texts that repeat. */

export const CALL = '{"name": "get_weather", "parameters": {"city": "北京"}}';
/** Two calls in a list (LLaMA-Factory's llama3 tool format for parallel calls): 13 tokens repeat before the city. */
export const PARALLEL = '[{"name": "get_weather", "parameters": {"city": "北京"}}, {"name": "get_weather", "parameters": {"city": "上海"}}]';
/** A 60-token call. */
export const LONG_CALL = '{"name": "get_weather", "parameters": {"city": "北京", "unit": "celsius", "date": "2024-06-01", "days": 3, "details": true, "hours": [6, 24], "alerts": "no"}}';
export const HA = 'ha ha ha ha ha';
export const CHINESE = '好的好的，我知道了。我知道你的意思了：好的，好的，好的！';
export const BLANK_LINE = '第一行\n\n第二行\n\n第三行';
