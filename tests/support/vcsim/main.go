// Command vcsim serves govmomi's vSphere API simulator on loopback with an inventory described in JSON.
//
// The tests need an inventory shaped like a real stack (datacenter dc-east, cluster compute-01, hosts named
// esx-01.corp.example.com, a datastore of a given size, a port group, a VM folder), not the simulator's
// generated names, so this main builds it through the vSphere API itself (CreateDatacenter, CreateClusterEx,
// AddHost_Task, ReconfigureComputeResource_Task, CreateLocalDatastore, CreateDVS_Task, CreateVM_Task,
// EnterMaintenanceMode_Task, ...). Only what the simulator offers no API for (a host's ESXi version, a
// datastore's size, a VM's unset enum properties) is set on its objects directly, through the model's registry.
//
// It is a Go module (go.mod, go.sum) pinned to the govmomi that terraform-provider-vsphere uses.
//
// Usage: vcsim -spec inventory.json [-listen 127.0.0.1:0] [-user U -password P]
//
// It prints one JSON line {"url": "https://127.0.0.1:PORT/sdk"} on stdout once it serves, and stops on
// SIGTERM, SIGINT or when stdin closes (so it dies with the test process that started it). Temporary
// datastore folders are created under $TMPDIR and removed on the way out.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	_ "github.com/vmware/govmomi/vapi/simulator"
)

// HostSpec is one ESXi host.
type HostSpec struct {
	Name         string `json:"name"`
	Version      string `json:"version"` // ESXi version; default: the simulator's (8.0.2)
	Maintenance  bool   `json:"maintenance"`
	Disconnected bool   `json:"disconnected"`
}

// ClusterSpec is one compute cluster with its hosts and child resource pools ("a" or "a/b").
type ClusterSpec struct {
	Name  string     `json:"name"`
	DRS   *bool      `json:"drs"` // default true, as the simulator creates clusters
	Hosts []HostSpec `json:"hosts"`
	Pools []string   `json:"pools"`
}

// DatastoreSpec is one datastore mounted on the listed hosts (default: every host of the datacenter).
type DatastoreSpec struct {
	Name       string   `json:"name"`
	CapacityGB int64    `json:"capacityGb"`
	FreeGB     int64    `json:"freeGb"`
	Hosts      []string `json:"hosts"`
}

// NetworkSpec is one distributed port group on its own switch, reaching the listed hosts (default: all).
type NetworkSpec struct {
	Name  string   `json:"name"`
	Hosts []string `json:"hosts"`
}

// VMSpec is a VM that exists before the test: its name, notes, host, datastore and folder path.
type VMSpec struct {
	Name       string `json:"name"`
	Annotation string `json:"annotation"`
	Host       string `json:"host"`
	Datastore  string `json:"datastore"`
	Folder     string `json:"folder"`
}

// DatacenterSpec is one datacenter and everything in it.
type DatacenterSpec struct {
	Name       string          `json:"name"`
	Clusters   []ClusterSpec   `json:"clusters"`
	Hosts      []HostSpec      `json:"hosts"` // standalone hosts
	Datastores []DatastoreSpec `json:"datastores"`
	Networks   []NetworkSpec   `json:"networks"`
	Folders    []string        `json:"folders"` // VM folder paths, e.g. "gateways/prod"
	VMs        []VMSpec        `json:"vms"`
}

// Spec is the whole inventory.
type Spec struct {
	Datacenters []DatacenterSpec `json:"datacenters"`
}

type builder struct {
	ctx    context.Context
	client *govmomi.Client
	model  *simulator.Model
	dirs   []string
}

// simObject is the simulator's own object behind a reference, and a function that runs f holding its lock.
func (b *builder) simObject(ref types.ManagedObjectReference) (mo.Reference, func(f func())) {
	registry, ctx := b.model.Map(), b.model.Service.Context
	obj := registry.Get(ref)
	return obj, func(f func()) { registry.WithLock(ctx, obj, f) }
}

func (b *builder) wait(task *object.Task, err error) (types.AnyType, error) {
	if err != nil {
		return nil, err
	}
	info, err := task.WaitForResult(b.ctx, nil)
	if err != nil {
		return nil, err
	}
	return info.Result, nil
}

func (b *builder) addHost(spec HostSpec, add func(types.HostConnectSpec, bool) (*object.Task, error)) (*object.HostSystem, error) {
	result, err := b.wait(add(types.HostConnectSpec{HostName: spec.Name}, !spec.Disconnected))
	if err != nil {
		return nil, fmt.Errorf("host %s: %w", spec.Name, err)
	}
	host := object.NewHostSystem(b.client.Client, result.(types.ManagedObjectReference))
	if spec.Maintenance {
		if _, err := b.wait(host.EnterMaintenanceMode(b.ctx, 0, false, nil)); err != nil {
			return nil, fmt.Errorf("host %s: maintenance mode: %w", spec.Name, err)
		}
	}
	return host, nil
}

// setVersion sets a host's ESXi version. No API changes it: it is set on the simulator's object, in both
// places clients read it. The simulator parses the versions of a cluster's hosts whenever a host joins (to
// work out the VM hardware versions the cluster offers) and panics on one missing from its table (such as
// 7.0.3, newer than its 7.0.2), so versions are set only once every host has been added.
func (b *builder) setVersion(host *object.HostSystem, version string) {
	obj, locked := b.simObject(host.Reference())
	sim := obj.(*simulator.HostSystem)
	locked(func() {
		product := sim.Config.Product
		product.Version = version
		product.FullName = "VMware ESXi " + version
		sim.Config.Product = product
		sim.Summary.Config.Product = &product
	})
}

func (b *builder) folder(root *object.Folder, folderPath string) (*object.Folder, error) {
	current := root
	for _, name := range strings.Split(strings.Trim(folderPath, "/"), "/") {
		if name == "" {
			continue
		}
		children, err := current.Children(b.ctx)
		if err != nil {
			return nil, err
		}
		var next *object.Folder
		for _, child := range children {
			if f, ok := child.(*object.Folder); ok {
				if n, err := f.ObjectName(b.ctx); err == nil && n == name {
					next = f
				}
			}
		}
		if next == nil {
			if next, err = current.CreateFolder(b.ctx, name); err != nil {
				return nil, fmt.Errorf("folder %s: %w", folderPath, err)
			}
		}
		current = next
	}
	return current, nil
}

func selected(names []string, all map[string]*object.HostSystem) []*object.HostSystem {
	var hosts []*object.HostSystem
	if len(names) == 0 {
		for _, h := range all {
			hosts = append(hosts, h)
		}
		return hosts
	}
	for _, n := range names {
		if h, ok := all[n]; ok {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

func (b *builder) datacenter(spec DatacenterSpec) error {
	ctx := b.ctx
	root := object.NewRootFolder(b.client.Client)
	dc, err := root.CreateDatacenter(ctx, spec.Name)
	if err != nil {
		return fmt.Errorf("datacenter %s: %w", spec.Name, err)
	}
	folders, err := dc.Folders(ctx)
	if err != nil {
		return err
	}
	hosts := map[string]*object.HostSystem{}
	versions := map[string]string{}
	pools := map[string]*object.ResourcePool{}

	for _, hs := range spec.Hosts {
		h, err := b.addHost(hs, func(c types.HostConnectSpec, connected bool) (*object.Task, error) {
			return folders.HostFolder.AddStandaloneHost(ctx, c, connected, nil, nil)
		})
		if err != nil {
			return err
		}
		hosts[hs.Name], versions[hs.Name] = h, hs.Version
	}

	for _, cs := range spec.Clusters {
		cluster, err := folders.HostFolder.CreateCluster(ctx, cs.Name, types.ClusterConfigSpecEx{})
		if err != nil {
			return fmt.Errorf("cluster %s: %w", cs.Name, err)
		}
		for _, hs := range cs.Hosts {
			h, err := b.addHost(hs, func(c types.HostConnectSpec, connected bool) (*object.Task, error) {
				return cluster.AddHost(ctx, c, connected, nil, nil)
			})
			if err != nil {
				return err
			}
			hosts[hs.Name], versions[hs.Name] = h, hs.Version
		}
		if cs.DRS != nil && !*cs.DRS {
			// The simulator creates every cluster with DRS on, whatever the create spec says; a reconfigure
			// turns it off.
			off := &types.ClusterConfigSpecEx{DrsConfig: &types.ClusterDrsConfigInfo{Enabled: types.NewBool(false)}}
			if _, err := b.wait(cluster.Reconfigure(ctx, off, true)); err != nil {
				return fmt.Errorf("cluster %s: DRS: %w", cs.Name, err)
			}
		}
		rootPool, err := cluster.ResourcePool(ctx)
		if err != nil {
			return err
		}
		pools[cs.Name+"/Resources"] = rootPool
		for _, poolPath := range cs.Pools {
			parent, parentKey := rootPool, cs.Name+"/Resources"
			for _, name := range strings.Split(poolPath, "/") {
				key := parentKey + "/" + name
				pool, ok := pools[key]
				if !ok {
					if pool, err = parent.Create(ctx, name, types.DefaultResourceConfigSpec()); err != nil {
						return fmt.Errorf("resource pool %s: %w", key, err)
					}
					pools[key] = pool
				}
				parent, parentKey = pool, key
			}
		}
	}

	for name, version := range versions {
		if version != "" {
			b.setVersion(hosts[name], version)
		}
	}

	for _, ds := range spec.Datastores {
		dir, err := os.MkdirTemp("", fmt.Sprintf("govcsim-%s-%s-", spec.Name, ds.Name))
		if err != nil {
			return err
		}
		b.dirs = append(b.dirs, dir)
		mounts := selected(ds.Hosts, hosts)
		if len(mounts) == 0 {
			return fmt.Errorf("datastore %s: no hosts to mount it on", ds.Name)
		}
		// A shared datastore (vSAN, NFS, VMFS on a SAN) is one object mounted on many hosts: the simulator
		// mounts the existing datastore of that name when another host creates it (and then answers with an
		// empty reference, so the first host's answer is the datastore).
		var created *object.Datastore
		for i, h := range mounts {
			dss, err := h.ConfigManager().DatastoreSystem(ctx)
			if err != nil {
				return err
			}
			mounted, err := dss.CreateLocalDatastore(ctx, ds.Name, dir)
			if err != nil {
				return fmt.Errorf("datastore %s: %w", ds.Name, err)
			}
			if i == 0 {
				created = mounted
			}
		}
		if ds.CapacityGB > 0 || ds.FreeGB > 0 {
			// The simulator reports 1 TB per mounting host; the tests need a fixed size.
			const gb = int64(1) << 30
			obj, locked := b.simObject(created.Reference())
			sim := obj.(*simulator.Datastore)
			locked(func() {
				sim.Summary.Capacity = ds.CapacityGB * gb
				sim.Summary.FreeSpace = ds.FreeGB * gb
				info := sim.Info.GetDatastoreInfo()
				info.FreeSpace = ds.FreeGB * gb
				info.MaxFileSize = ds.FreeGB * gb
				info.MaxMemoryFileSize = ds.CapacityGB * gb
			})
		}
	}

	for _, ns := range spec.Networks {
		var create types.DVSCreateSpec
		create.ConfigSpec = &types.VMwareDVSConfigSpec{}
		create.ConfigSpec.GetDVSConfigSpec().Name = ns.Name + "-dvs"
		result, err := b.wait(folders.NetworkFolder.CreateDVS(ctx, create))
		if err != nil {
			return fmt.Errorf("network %s: %w", ns.Name, err)
		}
		dvs := object.NewDistributedVirtualSwitch(b.client.Client, result.(types.ManagedObjectReference))
		members := &types.DVSConfigSpec{}
		for _, h := range selected(ns.Hosts, hosts) {
			members.Host = append(members.Host, types.DistributedVirtualSwitchHostMemberConfigSpec{
				Operation: string(types.ConfigSpecOperationAdd),
				Host:      h.Reference(),
			})
		}
		if _, err := b.wait(dvs.Reconfigure(ctx, members)); err != nil {
			return fmt.Errorf("network %s: hosts: %w", ns.Name, err)
		}
		if _, err := b.wait(dvs.AddPortgroup(ctx, []types.DVPortgroupConfigSpec{{Name: ns.Name}})); err != nil {
			return fmt.Errorf("network %s: %w", ns.Name, err)
		}
	}

	for _, f := range spec.Folders {
		if _, err := b.folder(folders.VmFolder, f); err != nil {
			return err
		}
	}

	for _, vm := range spec.VMs {
		host, ok := hosts[vm.Host]
		if !ok {
			return fmt.Errorf("vm %s: no host %q in the spec", vm.Name, vm.Host)
		}
		pool, err := host.ResourcePool(ctx)
		if err != nil {
			return err
		}
		folder, err := b.folder(folders.VmFolder, vm.Folder)
		if err != nil {
			return err
		}
		config := types.VirtualMachineConfigSpec{
			Name:       vm.Name,
			Annotation: vm.Annotation,
			GuestId:    string(types.VirtualMachineGuestOsIdentifierOtherGuest),
			Files:      &types.VirtualMachineFileInfo{VmPathName: "[" + vm.Datastore + "]"},
		}
		result, err := b.wait(folder.CreateVM(ctx, config, pool, host))
		if err != nil {
			return fmt.Errorf("vm %s: %w", vm.Name, err)
		}
		// The simulator leaves some of a VM's enum properties empty, and govmomi now sends them all: an empty
		// value is no member of the enum, so pyVmomi fails on the VM's runtime and summary. They get what vCenter
		// says for a VM without Fault Tolerance, record/replay or VMware Tools.
		obj, locked := b.simObject(result.(types.ManagedObjectReference))
		sim := obj.(*simulator.VirtualMachine)
		locked(func() {
			sim.Runtime.FaultToleranceState = types.VirtualMachineFaultToleranceStateNotConfigured
			sim.Runtime.RecordReplayState = types.VirtualMachineRecordReplayStateInactive
			sim.Summary.Runtime = sim.Runtime
			sim.GuestHeartbeatStatus = types.ManagedEntityStatusGray
		})
	}
	return nil
}

func main() {
	specPath := flag.String("spec", "", "inventory JSON file")
	listen := flag.String("listen", "127.0.0.1:0", "address to serve on (port 0: any free port)")
	user := flag.String("user", "user", "login user")
	password := flag.String("password", "pass", "login password")
	flag.Parse()

	if err := run(*specPath, *listen, *user, *password); err != nil {
		fmt.Fprintf(os.Stderr, "vcsim: %v\n", err)
		os.Exit(1)
	}
}

func run(specPath, listen, user, password string) error {
	var spec Spec
	if specPath != "" {
		data, err := os.ReadFile(specPath)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(data, &spec); err != nil {
			return fmt.Errorf("%s: %w", specPath, err)
		}
	}

	// An empty vCenter: every object comes from the spec.
	model := simulator.VPX()
	model.Datacenter, model.Cluster, model.ClusterHost, model.Host = 0, 0, 0, 0
	model.Datastore, model.Portgroup, model.Machine = 0, 0, 0
	if err := model.Create(); err != nil {
		return err
	}
	defer model.Remove()

	model.Service.Listen = &url.URL{Host: listen, User: url.UserPassword(user, password)}
	model.Service.TLS = new(tls.Config)
	model.Service.RegisterEndpoints = true
	server := model.Service.NewServer()
	defer server.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, err := govmomi.NewClient(ctx, server.URL, true)
	if err != nil {
		return err
	}
	b := &builder{ctx: ctx, client: client, model: model}
	defer func() {
		for _, dir := range b.dirs {
			_ = os.RemoveAll(dir)
		}
	}()
	for _, dc := range spec.Datacenters {
		if err := b.datacenter(dc); err != nil {
			return err
		}
	}
	if err := client.Logout(ctx); err != nil {
		return err
	}

	public := *server.URL
	public.User = nil
	public.Path = path.Clean(public.Path)
	line, _ := json.Marshal(map[string]string{"url": public.String()})
	fmt.Println(string(line))

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		// The test process holds our stdin: when it exits, even killed, the pipe closes and we stop too.
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop <- syscall.SIGTERM
	}()
	<-stop
	return nil
}
