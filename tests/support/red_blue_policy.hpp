// The red/blue example of docs/policy-format.md, verbatim (14 lines, blank lines 3 and 9): two
// tenants with the same addresses on two hosts. The loader's and the change sets' tests start
// from it.
#pragma once

#include <string>

namespace nvgre::test {

inline const std::string red_blue_policy =
    "provider-address host=hv1 pa=192.168.10.11 prefix-length=24 mac=02:00:c0:a8:0a:0b\n"
    "provider-address host=hv2 pa=192.168.10.12 prefix-length=24 mac=02:00:c0:a8:0a:0c\n"
    "\n"
    "routing-domain rdid={11111111-1111-1111-1111-111111111111} name=red\n"
    "virtual-subnet vsid=5001 rdid={11111111-1111-1111-1111-111111111111} gateway=10.0.0.1\n"
    "customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5001 prefix=10.0.0.0/24 next-hop=0.0.0.0\n"
    "lookup-record vsid=5001 ca=10.0.0.5 mac=00:15:5d:00:00:05 pa=192.168.10.11 vm=red-web\n"
    "lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00:06 pa=192.168.10.12 vm=red-db\n"
    "\n"
    "routing-domain rdid={22222222-2222-2222-2222-222222222222} name=blue\n"
    "virtual-subnet vsid=6001 rdid={22222222-2222-2222-2222-222222222222} gateway=10.0.0.1\n"
    "customer-route rdid={22222222-2222-2222-2222-222222222222} vsid=6001 prefix=10.0.0.0/24 next-hop=0.0.0.0\n"
    "lookup-record vsid=6001 ca=10.0.0.5 mac=00:15:5d:00:01:05 pa=192.168.10.11 vm=blue-web\n"
    "lookup-record vsid=6001 ca=10.0.0.6 mac=00:15:5d:00:01:06 pa=192.168.10.12 vm=blue-db\n";

}  // namespace nvgre::test
