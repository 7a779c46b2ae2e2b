import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setJsonNumbers } from '../../src/context/hfConfig.js';

const ctx = (value: number) => ({ key: 'max_position_embeddings', value, float: false });
const theta = (value: number) => ({ key: 'rope_theta', value, float: true });

test('setJsonNumbers changes only the values, in the number style the file uses', () => {
  const text = '{\n  "a": "}\\"{",\n  "max_position_embeddings": 8192,\n  "nested": {"rope_theta": 1, "x": [1, {"y": "]"}]},\n  "rope_theta": 5e5\n}\n';
  assert.equal(setJsonNumbers(text, [ctx(32768), theta(1e6)]),
    '{\n  "a": "}\\"{",\n  "max_position_embeddings": 32768,\n  "nested": {"rope_theta": 1, "x": [1, {"y": "]"}]},\n  "rope_theta": 1000000.0\n}\n');
  // An integer-looking rope_theta stays an integer; a float one keeps its ".0".
  assert.equal(setJsonNumbers('{"rope_theta": 500000}', [theta(1e6)]), '{"rope_theta": 1000000}');
  assert.equal(setJsonNumbers('{"rope_theta": 500000.0}', [theta(2.5e6)]), '{"rope_theta": 2500000.0}');
});

test('a missing key goes where sorted order puts it, or last when the keys are not sorted', () => {
  assert.equal(setJsonNumbers('{\n  "a": 1,\n  "z": 2\n}', [theta(1e6)]), '{\n  "a": 1,\n  "rope_theta": 1000000.0,\n  "z": 2\n}');
  assert.equal(setJsonNumbers('{\n    "z": 1,\n    "a": 2\n}', [theta(1e6)]), '{\n    "z": 1,\n    "a": 2,\n    "rope_theta": 1000000.0\n}');
  assert.equal(setJsonNumbers('{\n  "a": 1\n}', [theta(4e6)]), '{\n  "a": 1,\n  "rope_theta": 4000000.0\n}');
  assert.equal(setJsonNumbers('{}', [ctx(8)]), '{\n  "max_position_embeddings": 8\n}');
  assert.throws(() => setJsonNumbers('{"a": ', [ctx(8)]), SyntaxError);
});
