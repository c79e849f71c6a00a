// Prefix tuning through the shared method matrix (src/peft/matrix.ts); its own checks are in prefix-reference.test.ts.
import { methodMatrix } from '../matrix';

methodMatrix('prefix');
