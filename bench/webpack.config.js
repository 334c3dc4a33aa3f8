// Bundles the benchmark page (bench/pages/) into bench/out/dist/, each client in its own chunk:
// `resocket` is the npm package in pkg/ exactly as an app imports it, `bench-rust-stream` and
// `bench-gloo-net` are the bench crates built by wasm-pack into bench/out/.
const path = require('path');
const fs = require('fs');

const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(__dirname, 'out');

class CopyHtmlPlugin {
  apply(compiler) {
    compiler.hooks.thisCompilation.tap('CopyHtmlPlugin', (compilation) => {
      compilation.hooks.processAssets.tap(
        { name: 'CopyHtmlPlugin', stage: compiler.webpack.Compilation.PROCESS_ASSETS_STAGE_ADDITIONAL },
        () => {
          const file = path.join(__dirname, 'pages', 'index.html');
          compilation.emitAsset('index.html', new compiler.webpack.sources.RawSource(fs.readFileSync(file)));
          compilation.fileDependencies.add(file);
        },
      );
    });
  }
}

// `--env pkg=DIR --env rustStream=DIR --env out=NAME`: other builds of the npm package and of
// bench/rust-stream (bench/profile.mjs uses --profiling builds, whose wasm keeps function names)
// bundled into bench/out/NAME.
module.exports = (env = {}) => ({
  mode: 'production',
  context: __dirname,
  entry: path.join(__dirname, 'pages', 'bench.js'),
  output: {
    path: path.join(OUT, env.out || 'dist'),
    filename: 'bench.js',
    chunkFilename: '[name].js',
    webassemblyModuleFilename: '[hash].module.wasm',
    clean: true,
  },
  resolve: {
    alias: {
      ...(env.pkg ? { resocket$: path.resolve(ROOT, env.pkg, 'resocket.js') } : { resocket: path.join(ROOT, 'pkg') }),
      'bench-rust-stream$': path.join(env.rustStream ? path.resolve(ROOT, env.rustStream) : path.join(OUT, 'rust-stream'),
        'rust_stream.js'),
      'bench-gloo-net$': path.join(OUT, 'gloo-net', 'gloo_net.js'),
    },
    modules: [path.join(ROOT, 'node_modules')],
  },
  experiments: { asyncWebAssembly: true },
  performance: { hints: false },
  // Readable function names in CPU profiles (`--env profiling`).
  optimization: env.profiling ? { minimize: false } : {},
  plugins: [new CopyHtmlPlugin()],
});
