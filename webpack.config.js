// Bundles the live dashboard in www/ with the resocket npm package from pkg/ (built by
// `wasm-pack build --target bundler`), imported as `resocket` exactly as an app would.
const path = require('path');
const fs = require('fs');

class CopyStaticPlugin {
  constructor(files) {
    this.files = files;
  }
  apply(compiler) {
    compiler.hooks.thisCompilation.tap('CopyStaticPlugin', (compilation) => {
      compilation.hooks.processAssets.tap(
        { name: 'CopyStaticPlugin', stage: compiler.webpack.Compilation.PROCESS_ASSETS_STAGE_ADDITIONAL },
        () => {
          for (const file of this.files) {
            const source = fs.readFileSync(path.join(__dirname, 'www', file));
            compilation.emitAsset(file, new compiler.webpack.sources.RawSource(source));
            compilation.fileDependencies.add(path.join(__dirname, 'www', file));
          }
        },
      );
    });
  }
}

module.exports = (env = {}) => ({
  mode: env.development ? 'development' : 'production',
  entry: path.join(__dirname, 'www', 'index.js'),
  output: {
    path: path.join(__dirname, 'www', 'dist'),
    filename: 'dashboard.js',
    clean: true,
  },
  resolve: {
    alias: { resocket: path.join(__dirname, 'pkg') },
  },
  experiments: { asyncWebAssembly: true },
  performance: { hints: false },
  plugins: [new CopyStaticPlugin(['index.html', 'style.css'])],
});
