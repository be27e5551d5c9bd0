// libpcap, as Debian's libpcap-dev installs it. Only the PcapExport module imports this.
#include <pcap/pcap.h>
