# The `cargo xtask install` hook (commands/src/install/install_hook.py in gpu-env).
# gpu_env.pth imports this module when the interpreter starts. It only puts a
# finder on sys.meta_path: the first time `mxnet` is imported, the finder
# removes itself, runs the lock's preloads and shims (the shared runtime's
# _gpu_env_preload and _gpu_env_apply_shims above, quietly) and then hands
# the import to the remaining finders, so `import mxnet` is the ordinary one.
# A stop (a locked library missing or unloadable) is an ImportError with its
# message. GPU_ENV_HOOK=0 in the environment turns the hook off.


class _GpuEnvFinder(object):
    """sys.meta_path finder that prepares the environment for `mxnet` once."""

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name != "mxnet" or path is not None:
            return None
        import importlib.util, os, sys
        # Off the path first: the import below (and any later one) must not
        # come back here. The lookup is then done here by the finders after
        # this one, since removing an entry while the import system iterates
        # sys.meta_path would make it skip the next finder.
        while cls in sys.meta_path:
            sys.meta_path.remove(cls)
        try:
            _gpu_env_preload(_gpu_env_T, _gpu_env_redist_dir, say=lambda m: None)
            _gpu_env_apply_shims(_gpu_env_T, say=lambda m: None)
        except _GpuEnvStop as e:
            # Stay in place: importing again stops again instead of loading
            # MXNet without its libraries.
            sys.meta_path.insert(0, cls)
            raise ImportError(str(e), name=name) from None
        os.environ["GPU_ENV_LOADED"] = _gpu_env_lock_sha256
        os.environ["GPU_ENV_TARGET"] = _gpu_env_T["target"]
        return importlib.util.find_spec(name)


def _gpu_env_hook_install():
    import os, sys
    if os.environ.get("GPU_ENV_HOOK", "") == "0" or "mxnet" in sys.modules:
        return
    if _GpuEnvFinder not in sys.meta_path:
        sys.meta_path.insert(0, _GpuEnvFinder)


_gpu_env_hook_install()
