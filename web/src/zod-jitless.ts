// zod compiles object validators with `new Function` unless told not to, and the page's CSP (no
// 'unsafe-eval') forbids that: each schema would raise a CSP violation when it is created. zod
// decides when a schema is created, so this module must be imported before any schema module.
import { z } from "zod";

z.config({ jitless: true });
