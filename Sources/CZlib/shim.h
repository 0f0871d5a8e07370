// zlib, as installed by Debian's `zlib1g-dev`: the gzip inflater of LogSurgeInput.
#include <zlib.h>
