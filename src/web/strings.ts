/** The page's words: Chinese by default, English by the toggle. */
export type Lang = 'zh' | 'en';

const zh = {
  newChat: '新对话', export: '导出', import: '导入', settings: '超参数面板', model: '模型', system: '系统提示词',
  maxTokens: '最大生成长度', temperature: '温度 temperature', repetitionPenalty: '重复惩罚', seed: '随机种子',
  seedRandom: '留空为随机', reset: '重置聊天', send: '发送', stop: '停止', placeholder: '输入问题，Enter 发送，Shift+Enter 换行',
  copy: '复制', copied: '已复制', regenerate: '重新生成', edit: '编辑', resend: '保存并重新发送', untitled: '新对话',
  rename: '对话名称', confirmDelete: '删除这个对话？', apiKey: '服务器需要 API 密钥：', error: '出错了',
  trimmed: '对话太长，已省略最早的 {n} 轮（系统提示词保留）。', badImport: '不是 llama3-zh 导出的对话文件', theme: '明暗主题',
  training: '训练', chat: '聊天', trainRun: '训练任务', trainSteps: '步数', trainLoss: '损失 loss', trainEvalLoss: '验证损失 eval_loss',
  trainLr: '学习率', trainEpoch: '轮次 epoch', trainEta: '预计剩余', trainElapsed: '已用时间', trainAccuracy: '偏好准确率',
  trainReward: '奖励 reward', trainThroughput: '吞吐 tokens/s', statusWaiting: '等待开始', statusRunning: '训练中', statusFinished: '已完成',
  statusFailed: '已失败（见 train.log）', noteFolder: '运行目录还不存在', noteYaml: '还没有 train.yaml', noteBadYaml: 'train.yaml 无法读取',
  trainQuiet: '已 {t} 没有新的日志行：训练进程还在运行吗？',
  chartStep: '步数 step', chartLoss: '损失 loss', chartSmoothed: '平滑', chartEval: '验证损失', chartLr: '学习率', chartEmpty: '还没有记录 loss',
  tools: '工具 tools（JSON）', toolsPlaceholder: '粘贴工具列表（OpenAI 的 tools 格式）；留空则不用工具', toolsOn: '已启用 {n} 个工具：{names}',
  badToolsJson: '工具列表不是有效的 JSON：{e}', badTools: '工具列表有误：{e}', toolCall: '调用工具', toolResult: '工具结果',
  resultPlaceholder: '由你来扮演这个工具：输入它返回的结果，Enter 提交', sendResult: '提交结果',
};

const en: typeof zh = {
  newChat: 'New chat', export: 'Export', import: 'Import', settings: 'Settings', model: 'Model', system: 'System prompt',
  maxTokens: 'Max new tokens', temperature: 'Temperature', repetitionPenalty: 'Repetition penalty', seed: 'Seed',
  seedRandom: 'empty = random', reset: 'Reset chat', send: 'Send', stop: 'Stop', placeholder: 'Ask something. Enter sends, Shift+Enter for a new line',
  copy: 'Copy', copied: 'Copied', regenerate: 'Regenerate', edit: 'Edit', resend: 'Save and resend', untitled: 'New chat',
  rename: 'Chat name', confirmDelete: 'Delete this chat?', apiKey: 'The server needs an API key:', error: 'Error',
  trimmed: 'The chat is long: the {n} oldest rounds were left out (the system prompt is kept).', badImport: 'not a chat exported by llama3-zh', theme: 'Theme',
  training: 'Training', chat: 'Chat', trainRun: 'Run', trainSteps: 'Steps', trainLoss: 'Loss', trainEvalLoss: 'Eval loss',
  trainLr: 'Learning rate', trainEpoch: 'Epoch', trainEta: 'Time left', trainElapsed: 'Elapsed', trainAccuracy: 'Reward accuracy',
  trainReward: 'Reward', trainThroughput: 'Tokens/s', statusWaiting: 'Waiting', statusRunning: 'Running', statusFinished: 'Finished',
  statusFailed: 'Failed (see train.log)', noteFolder: 'the run folder does not exist yet', noteYaml: 'no train.yaml yet', noteBadYaml: 'train.yaml cannot be read',
  trainQuiet: 'no new log line for {t}: is the trainer still running?',
  chartStep: 'step', chartLoss: 'loss', chartSmoothed: 'smoothed', chartEval: 'eval_loss', chartLr: 'learning rate', chartEmpty: 'no loss logged yet',
  tools: 'Tools (JSON)', toolsPlaceholder: "Paste a list of tools (OpenAI's tools format); empty for none", toolsOn: 'Tools on ({n}): {names}',
  badToolsJson: 'The tools are not valid JSON: {e}', badTools: 'The tools are wrong: {e}', toolCall: 'Tool call', toolResult: 'Tool result',
  resultPlaceholder: 'You play the tool: type what it returns, Enter sends', sendResult: 'Send result',
};

export const STRINGS: Record<Lang, typeof zh> = { zh, en };
