/**
 * Chat templates as model files carry them in `tokenizer.chat_template`. The Llama-3 one is Meta's
 * Meta-Llama-3-8B-Instruct template; synthesized models carry it so they look like the real ones.
 */
export const LLAMA3_JINJA =
  "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

/** shareAI's base+SFT v1 format written as Jinja, for synthesized v1-style models. */
export const LLAMA3_V1_JINJA =
  "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ '<<SYS>>\n' + messages[0]['content'] + '\n<</SYS>>\n\n' }}{% set loop_messages = messages[1:] %}{% else %}{% set loop_messages = messages %}{% endif %}" +
  "{% for message in loop_messages %}{% if message['role'] == 'user' %}{{ '<|start_header_id|>user<|end_header_id|>\n\n' + message['content'] + '<|eot_id|>' }}{% else %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' + message['content'] + '<|end_of_text|>\n' }}{% endif %}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";
