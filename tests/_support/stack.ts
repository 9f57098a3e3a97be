// This checkout's own stack, as its operator drives it: parts are stopped and started through its
// supervisord (scripts/stack.sh), exactly as the stack runs them, never with arguments of our own.
const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

export async function supervisorctl(...args: string[]): Promise<string> {
  const out = await new Deno.Command("supervisorctl", {
    args: ["-c", `${ROOT}/.stack/run/supervisord.conf`, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (out.code !== 0) throw new Error(`supervisorctl ${args.join(" ")}: ${text} ${new TextDecoder().decode(out.stderr)}`);
  return text;
}
