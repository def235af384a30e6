// Which types a package's public signatures name without exporting them: a user can call
// such an API but not name its argument's type (e.g. an `onProgress` option typed with an
// unexported `ApplyProgress`). Read with the TypeScript compiler from the package's sources.
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

/** Source entry points of a package: each `./dist/X.d.ts` of its exports map, as `src/X.ts`. */
export function entryPoints(pkgDir: string, json: { exports?: Record<string, unknown> }): string[] {
  const found = new Set<string>();
  const visit = (v: unknown) => {
    if (typeof v === 'string') {
      const m = /^\.\/dist\/(.+)\.d\.ts$/.exec(v);
      if (m && existsSync(join(pkgDir, 'src', `${m[1]}.ts`))) found.add(join(pkgDir, 'src', `${m[1]}.ts`));
    } else if (v && typeof v === 'object') Object.values(v).forEach(visit);
  };
  visit(json.exports);
  return [...found].sort();
}

/** "Export uses Name (file)" for every unexported type of this package named in an export's signature. */
export function unexportedPublicTypes(pkgDir: string, entries: string[]): string[] {
  const program = ts.createProgram(entries, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    skipLibCheck: true,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const src = join(pkgDir, 'src') + '/';
  const resolve = (s: ts.Symbol) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
  const ours = (s: ts.Symbol) => (s.declarations ?? []).some((d) => d.getSourceFile().fileName.startsWith(src));

  const exported = new Map<ts.Symbol, string>();
  for (const entry of entries) {
    const file = program.getSourceFile(entry);
    const mod = file && checker.getSymbolAtLocation(file);
    if (!mod) throw new Error(`cannot read ${entry}`);
    for (const e of checker.getExportsOfModule(mod)) exported.set(resolve(e), e.name);
  }

  const problems = new Set<string>();
  // a private member is nobody's business, but a constructor's `private opts: T` is still an argument
  const isHidden = (m: ts.Node) =>
    !ts.isParameter(m) &&
    ts.canHaveModifiers(m) &&
    (ts.getModifiers(m) ?? []).some((x) => x.kind === ts.SyntaxKind.PrivateKeyword || x.kind === ts.SyntaxKind.ProtectedKeyword);

  /** Type references anywhere under `node`, but not inside function bodies or initialisers. */
  const walk = (owner: string, node: ts.Node): void => {
    if (ts.isBlock(node)) return;
    if (ts.isTypeReferenceNode(node) || ts.isExpressionWithTypeArguments(node) || ts.isTypeQueryNode(node)) {
      const name = ts.isTypeReferenceNode(node) ? node.typeName : ts.isTypeQueryNode(node) ? node.exprName : node.expression;
      const sym = checker.getSymbolAtLocation(name);
      if (sym) {
        const target = resolve(sym);
        if (!(target.flags & ts.SymbolFlags.TypeParameter) && ours(target) && !exported.has(target)) {
          const decl = target.declarations![0];
          problems.add(`${owner} uses ${target.name} (${relative(pkgDir, decl.getSourceFile().fileName)}), which is not exported`);
        }
      }
    }
    ts.forEachChild(node, (child) => {
      if (isHidden(child) || (ts.isPropertyDeclaration(child) && ts.isPrivateIdentifier(child.name))) return;
      if ((ts.isVariableDeclaration(node) || ts.isPropertyDeclaration(node) || ts.isParameter(node)) && child === node.initializer) return;
      walk(owner, child);
    });
  };

  for (const [sym, name] of exported) {
    if (!ours(sym)) continue;
    for (const decl of sym.declarations ?? []) walk(name, decl);
  }
  return [...problems].sort();
}
