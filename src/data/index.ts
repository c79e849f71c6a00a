// The data layer's public face: file → rows (parse) → shape → checked examples (validate) → split →
// token ids and labels (tokenize) → packed rows (pack) → [B, T] batches (batch). No GPU, no DOM.
export * from './batch';
export * from './errors';
export * from './pack';
export * from './parse';
export * from './prepare';
export * from './shape';
export * from './split';
export * from './tokenize';
export * from './types';
export * from './validate';
