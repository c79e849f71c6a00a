// compacter through the shared method matrix (src/peft/matrix.ts).
import { methodMatrix } from '../matrix';

methodMatrix('compacter');
