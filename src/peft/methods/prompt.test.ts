// Prompt tuning through the shared method matrix (src/peft/matrix.ts); its own checks are in prompt-reference.test.ts.
import { methodMatrix } from '../matrix';

methodMatrix('prompt');
