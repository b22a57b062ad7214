import { z } from 'zod';
import { SAMPLE_ALERT } from '../falco/falcosidekick-json.ts';
import { httpUrl, templateSource, timeoutMs } from '../settings/common-settings.ts';
import { compileTemplate } from '../template/template.ts';

/** A function name, a partial ARN (123456789012:function:name) or a full ARN, optionally with :qualifier (AWS's FunctionName). */
const functionName = z
  .string()
  .trim()
  .min(1)
  .max(170)
  .regex(/^(?:arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:|\d{12}:function:)?[A-Za-z0-9_-]+(?::[A-Za-z0-9$_-]+)?$/, 'must be a function name, a partial ARN (123456789012:function:name) or an ARN (arn:aws:lambda:region:123456789012:function:name), optionally with :version or :alias');

export const lambdaSettingsSchema = z
  .object({
    functionName: functionName.describe('Function name or ARN (a :version or :alias suffix is allowed). Falcosidekick: aws.lambda.functionname'),
    qualifier: z.string().regex(/^[A-Za-z0-9$_-]{1,128}$/, 'must be a version ($LATEST, 3) or an alias name').optional().describe('Version or alias to invoke (AWS Qualifier).'),
    invocationType: z
      .string()
      .transform((v) => ({ requestresponse: 'RequestResponse', event: 'Event' })[v.toLowerCase()] ?? v)
      .pipe(z.enum(['RequestResponse', 'Event'], { errorMap: () => ({ message: 'must be RequestResponse (wait for the function\'s result) or Event (queued by Lambda, 202); DryRun invokes nothing' }) }))
      .default('RequestResponse')
      .describe('RequestResponse: wait for the function and treat its error as a failed delivery; Event: Lambda queues the event (202) and retries on its own. Falcosidekick: aws.lambda.invocationtype'),
    logType: z.enum(['None', 'Tail']).default('None').describe('Tail: ask for the last 4 KB of the function\'s log (RequestResponse only), logged with a function error. Falcosidekick: aws.lambda.logtype (default Tail there)'),
    payloadTemplate: templateSource({ escape: 'json' })
      .optional()
      .describe('Template of the event (JSON; {{ x }} is JSON-string-escaped, {{ x | json }} inserts a JSON value). Default: the alert as Falcosidekick sends it.'),
    region: z.string().regex(/^[a-z]{2}(?:-[a-z]+)+-\d+$/, 'must be an AWS region such as eu-west-1').optional().describe('AWS region; default: the standard chain (AWS_REGION, the shared config file, …).'),
    endpoint: httpUrl.optional().describe('Endpoint override (a VPC endpoint, LocalStack, the Lambda Runtime Interface Emulator).'),
    timeoutMs: timeoutMs.describe('Time for one invocation in ms (RequestResponse waits for the function: keep it, and the hub\'s delivery.timeoutMs, above the function\'s run time).'),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.payloadTemplate === undefined) return;
    let rendered: string;
    try {
      rendered = compileTemplate(s.payloadTemplate, { escape: 'json' })(SAMPLE_ALERT);
    } catch {
      return; // reported by the field's own check
    }
    try {
      JSON.parse(rendered);
    } catch (e) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['payloadTemplate'], message: `renders invalid JSON for a sample alert (${(e as Error).message}); rendered: ${rendered.slice(0, 200)}` });
    }
  });

export type LambdaSettings = z.output<typeof lambdaSettingsSchema>;
